"""Settings for the test suite: the services the environment names, in a data folder of its own.

Worker processes the tests start load these same settings, so they share database, broker and
media with the test process.
"""

from config.settings.base import *  # noqa: F403
from config.settings.base import CELERY_BROKER_URL, DATA_DIR, DATABASES, STORAGES

TEST_DATA_DIR = DATA_DIR / "test"
TEST_DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = TEST_DATA_DIR / "media"
STORAGES = {
    # Local files, unless the environment names a bucket (AWS_STORAGE_BUCKET_NAME): then the S3
    # storage of the base settings, so a worker a test starts with AWS_* variables uses S3.
    "default": STORAGES["default"]
    if STORAGES["default"]["BACKEND"] == "storages.backends.s3.S3Storage"
    else {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: worker processes started by the tests must see the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(TEST_DATA_DIR / "test_timbre.sqlite3")}
if CELERY_BROKER_URL.startswith("filesystem://"):
    (TEST_DATA_DIR / "broker").mkdir(exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(TEST_DATA_DIR / "broker"),
        "data_folder_out": str(TEST_DATA_DIR / "broker"),
        "store_processed": False,
        # Exchange files; kombu would otherwise write them into the current directory.
        "control_folder": str(TEST_DATA_DIR / "broker") + "/control",
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(TEST_DATA_DIR / "cache"),
        }
    }

# A test-only engine (tests/support/toy_engine), proving that an engine is a package and
# nothing else: it is used end to end through the APIs by the tests' real workers.
# A second cloning toy (tests/support/toy_engine_b: another rate, languages and parameters)
# proves one voice built for several engines, each request choosing its engine.
TIMBRE_ENGINES = [*TIMBRE_ENGINES, "tests.support.toy_engine", "tests.support.toy_engine_b"]
