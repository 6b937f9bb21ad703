# shellcheck shell=bash disable=SC2016,SC2034
# (sh -c scripts are single-quoted on purpose; the variables set here are the callers'.)
#
# Shared by backup.sh and restore.sh (sourced, not run): where the database and the media are,
# and how to reach them directly or inside the docker compose services.
#
# Direct mode reads the same variables as Timbre (from the environment or --env-file):
#   DATABASE_URL             postgres://... or sqlite:///...; unset: SQLite in the data directory
#   TIMBRE_DATA_DIR          data directory (default: the repository's var/)
#   MEDIA_ROOT               local media (default: <data dir>/media)
#   AWS_STORAGE_BUCKET_NAME  media in an S3-compatible bucket: not copied, see the message
# Compose mode (--compose) runs pg_dump/pg_restore in the `postgres` service and tar in a
# one-off `web` container; TIMBRE_COMPOSE overrides the compose command.

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
compose=""
compose_cmd=()

die() {
    echo "$(basename "$0"): $*" >&2
    exit 1
}

note() {
    echo "$(basename "$0"): $*" >&2
}

# Reads KEY=VALUE lines (a docker env file or /etc/timbre/timbre.env) without running them as
# shell: values may hold JSON, <, > or spaces. Only the variables above are taken, and only
# where the environment does not set them already.
load_env_file() {
    local file=$1 line key value
    [ -r "$file" ] || die "cannot read env file $file"
    while IFS= read -r line || [ -n "$line" ]; do
        case $line in '' | '#'*) continue ;; esac
        key=${line%%=*}
        value=${line#*=}
        value=${value%\"}
        value=${value#\"}
        case $key in
        DATABASE_URL | TIMBRE_DATA_DIR | MEDIA_ROOT | AWS_STORAGE_BUCKET_NAME | AWS_S3_ENDPOINT_URL)
            [ -n "${!key+set}" ] || export "$key=$value"
            ;;
        esac
    done <"$file"
}

use_compose() {
    compose=1
    # The compose file's own .env, which holds AWS_STORAGE_BUCKET_NAME when media is on S3.
    [ -r "$here/.env" ] && load_env_file "$here/.env"
    local default="docker compose -p timbre -f $here/docker-compose.yml"
    read -r -a compose_cmd <<<"${TIMBRE_COMPOSE:-$default}"
}

# Sets DB_KIND (postgresql|sqlite) with PG_URI or SQLITE_PATH, and MEDIA_KIND (local|s3) with
# MEDIA_DIR or MEDIA_BUCKET, the way config/settings/base.py reads them.
resolve_target() {
    if [ -n "$compose" ]; then
        DB_KIND=postgresql
        PG_URI="(compose service postgres)"
    else
        local data_dir=${TIMBRE_DATA_DIR:-$repo/var}
        local url=${DATABASE_URL:-sqlite:///$data_dir/timbre.sqlite3}
        case $url in
        postgres://* | postgresql://* | pgsql://* | psql://* | postgis://*)
            DB_KIND=postgresql
            PG_URI="postgresql://${url#*://}"
            ;;
        sqlite://*)
            DB_KIND=sqlite
            SQLITE_PATH=${url#sqlite://}
            SQLITE_PATH=${SQLITE_PATH#/}
            if [ -z "$SQLITE_PATH" ] || [ "$SQLITE_PATH" = ":memory:" ]; then
                die "DATABASE_URL=$url is an in-memory database: nothing to back up"
            fi
            ;;
        *) die "DATABASE_URL: unsupported database ${url%%://*} (PostgreSQL or SQLite)" ;;
        esac
    fi
    if [ -n "${AWS_STORAGE_BUCKET_NAME:-}" ]; then
        MEDIA_KIND=s3
        MEDIA_BUCKET=$AWS_STORAGE_BUCKET_NAME
    elif [ -n "$compose" ]; then
        MEDIA_KIND=local
        MEDIA_DIR=/media
    else
        MEDIA_KIND=local
        MEDIA_DIR=${MEDIA_ROOT:-${TIMBRE_DATA_DIR:-$repo/var}/media}
    fi
}

# pg TOOL ARGS...: a PostgreSQL client tool against the target database; stdin and stdout
# pass through, so dumps and restores travel the same way in both modes.
pg() {
    local tool=$1
    shift
    if [ -n "$compose" ]; then
        "${compose_cmd[@]}" exec -T postgres sh -c \
            'tool=$1; shift; exec "$tool" -U "$POSTGRES_USER" -d "$POSTGRES_DB" "$@"' \
            sh "$tool" "$@"
    else
        "$tool" -d "$PG_URI" "$@"
    fi
}

# in_media CMD ARGS...: a command that can see the media directory.
in_media() {
    if [ -n "$compose" ]; then
        "${compose_cmd[@]}" run --rm --no-deps -T web "$@"
    else
        "$@"
    fi
}

# Tables outside PostgreSQL's own schemas.
pg_object_count() {
    pg psql -X -A -t -q -v ON_ERROR_STOP=1 -c "
        select count(*) from pg_catalog.pg_class c
        join pg_catalog.pg_namespace n on n.oid = c.relnamespace
        where n.nspname not in ('pg_catalog', 'information_schema')
          and n.nspname not like 'pg_toast%' and n.nspname not like 'pg_temp%'
          and c.relkind in ('r', 'p')"
}

sqlite_table_count() {
    "${PYTHON:-python3}" - "$1" <<'EOF'
import sqlite3, sys
from pathlib import Path
path = Path(sys.argv[1])
if not path.exists() or path.stat().st_size == 0:
    print(0)
else:
    db = sqlite3.connect(path)
    query = "select count(*) from sqlite_master where type = 'table' and name not like 'sqlite_%'"
    print(db.execute(query).fetchone()[0])
    db.close()
EOF
}

# Copies one SQLite database into another through SQLite's backup API: consistent while web and
# workers write (WAL included), and the destination is replaced as a whole.
sqlite_copy() {
    "${PYTHON:-python3}" - "$1" "$2" <<'EOF'
import sqlite3, sys
src = sqlite3.connect(sys.argv[1])
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.close()
src.close()
EOF
}

# A database URL fit for a manifest: no password.
redacted() {
    echo "$1" | sed -E 's#://([^:/@]*):[^@]*@#://\1:***@#'
}
