#!/usr/bin/env bash
# Restores a backup made by deploy/backup.sh into an EMPTY database and media directory.
#
#   deploy/restore.sh [--force] [--env-file FILE] BACKUP_DIR   # targets from the environment
#   deploy/restore.sh --compose [--force] BACKUP_DIR            # the docker compose deployment
#
# It refuses a database that already has tables, or a media directory with files, unless
# --force: then the backup's tables replace the ones of the same name and its files are
# written over the directory (other files stay). Stop web, workers and beat first; with
# compose, start only postgres (`docker compose -p timbre -f deploy/docker-compose.yml up -d
# postgres`), restore, then start everything (the migrate service applies newer migrations).
# shellcheck disable=SC2016  # the sh -c scripts are single-quoted on purpose
set -euo pipefail
# shellcheck source=SCRIPTDIR/backup-common.sh
. "$(dirname "$0")/backup-common.sh"

usage() {
    sed -n '2,11s/^# \{0,1\}//p' "$0"
}

force=""
backup=""
while [ $# -gt 0 ]; do
    case $1 in
    --force) force=1; shift ;;
    --env-file) load_env_file "${2:?--env-file needs a file}"; shift 2 ;;
    --compose) use_compose; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option: $1 (see --help)" ;;
    *) [ -z "$backup" ] || die "one backup directory only"; backup=$1; shift ;;
    esac
done
[ -n "$backup" ] || die "which backup? (see --help)"
[ -f "$backup/manifest.txt" ] || die "$backup has no manifest.txt: not a Timbre backup"
(cd "$backup" && sha256sum --check --quiet SHA256SUMS) ||
    die "$backup is damaged: its files do not match SHA256SUMS"

manifest() {
    sed -n "s/^$1=//p" "$backup/manifest.txt"
}
[ "$(manifest format)" = timbre-backup-1 ] || die "unknown backup format: $(manifest format)"
resolve_target
[ "$(manifest database)" = "$DB_KIND" ] ||
    die "the backup holds a $(manifest database) database, the target is $DB_KIND"

# Every check before the first write: a refused restore changes nothing.
if [ "$DB_KIND" = postgresql ]; then
    count=$(pg_object_count)
    target="PostgreSQL $(redacted "$PG_URI")"
else
    count=$(sqlite_table_count "$SQLITE_PATH")
    target="SQLite $SQLITE_PATH"
fi
if [ "$count" != 0 ] && [ -z "$force" ]; then
    die "$target is not empty ($count tables): restore into a new, empty database, or pass" \
        "--force to replace its contents"
fi
media_file=$(manifest media_file)
if [ -n "$media_file" ] && [ "$MEDIA_KIND" = local ] && [ -z "$force" ]; then
    if in_media sh -c '[ -d "$1" ] && [ -n "$(ls -A "$1")" ]' sh "$MEDIA_DIR"; then
        die "media directory $MEDIA_DIR is not empty: restore into an empty one, or pass --force"
    fi
fi

note "restoring $target"
if [ "$DB_KIND" = postgresql ]; then
    options=(--no-owner --no-privileges --exit-on-error --single-transaction)
    [ "$count" != 0 ] && options+=(--clean --if-exists)
    pg pg_restore "${options[@]}" <"$backup/$(manifest database_file)"
else
    mkdir -p "$(dirname "$SQLITE_PATH")"
    # Stale WAL files of a replaced database must not be replayed over the restored one.
    rm -f "$SQLITE_PATH-wal" "$SQLITE_PATH-shm"
    sqlite_copy "$backup/$(manifest database_file)" "$SQLITE_PATH"
fi

if [ -z "$media_file" ]; then
    note "the backup holds no media (media was in the S3 bucket $(manifest media_bucket));" \
        "restore the bucket with your store's own tools"
elif [ "$MEDIA_KIND" = s3 ]; then
    note "the target keeps media in the S3 bucket $MEDIA_BUCKET: upload $backup/$media_file's" \
        "files there yourself (tar -xf, then aws s3 sync DIR s3://$MEDIA_BUCKET)"
else
    note "restoring $(manifest media_files) media files into $MEDIA_DIR"
    in_media sh -c 'mkdir -p "$1" && tar -C "$1" -xf -' sh "$MEDIA_DIR" <"$backup/$media_file"
fi
note "done. Code newer than the backup (commit $(manifest timbre_commit))? Run manage.py migrate."
