"""Operations endpoints: `/health/live`, `/health/ready` and `/metrics` (Prometheus).

It reads every app and nothing imports it but `config.urls` (an import contract says so).
"""
