#!/usr/bin/env bash
# Backs up Timbre's database and media into one new directory, timbre-backup-<UTC time>/:
#   database.pgdump (pg_dump -Fc) or database.sqlite3, media.tar, manifest.txt, SHA256SUMS.
# Media on S3 is not copied (see the message it prints). deploy/restore.sh puts it back.
#
#   deploy/backup.sh [--out DIR] [--env-file FILE]   # DATABASE_URL, MEDIA_ROOT from the env
#   deploy/backup.sh --compose [--out DIR]           # the docker compose deployment
#
# Dumps hold password hashes and API key hashes: the directory is created private (umask 077).
# shellcheck disable=SC2016  # the sh -c scripts are single-quoted on purpose
set -euo pipefail
# shellcheck source=SCRIPTDIR/backup-common.sh
. "$(dirname "$0")/backup-common.sh"

usage() {
    sed -n '2,9s/^# \{0,1\}//p' "$0"
}

out=./backups
while [ $# -gt 0 ]; do
    case $1 in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --env-file) load_env_file "${2:?--env-file needs a file}"; shift 2 ;;
    --compose) use_compose; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
    esac
done
resolve_target

umask 077
mkdir -p "$out"
dest="$out/timbre-backup-$(date -u +%Y%m%dT%H%M%SZ)"
[ -e "$dest" ] && die "$dest already exists"
# Written under a temporary name and renamed at the end: a backup that exists is complete.
work=$(mktemp -d "$out/.timbre-backup.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ "$DB_KIND" = postgresql ]; then
    note "dumping PostgreSQL $(redacted "$PG_URI")"
    db_file=database.pgdump
    pg pg_dump --format=custom >"$work/$db_file"
else
    [ -f "$SQLITE_PATH" ] || die "no SQLite database at $SQLITE_PATH"
    note "copying SQLite $SQLITE_PATH"
    db_file=database.sqlite3
    sqlite_copy "$SQLITE_PATH" "$work/$db_file"
fi

media_file=""
media_files=0
if [ "$MEDIA_KIND" = s3 ]; then
    note "media is in the S3 bucket $MEDIA_BUCKET: not copied. Back it up with your store's own" \
        "tools, e.g. aws s3 sync s3://$MEDIA_BUCKET DIR [--endpoint-url URL] or rclone sync."
else
    note "archiving media from $MEDIA_DIR"
    media_file=media.tar
    # A media directory nobody wrote to yet does not exist: an empty archive then.
    in_media sh -c 'if [ -d "$1" ]; then tar -C "$1" -cf - .; else tar -cf - -T /dev/null; fi' \
        sh "$MEDIA_DIR" >"$work/$media_file"
    media_files=$(tar -tf "$work/$media_file" | grep -vc '/$' || true)
fi

{
    echo "format=timbre-backup-1"
    echo "created=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "database=$DB_KIND"
    echo "database_file=$db_file"
    if [ "$DB_KIND" = postgresql ]; then
        echo "source_database=$(redacted "$PG_URI")"
    else
        echo "source_database=$SQLITE_PATH"
    fi
    echo "media=$MEDIA_KIND"
    echo "media_file=$media_file"
    echo "media_files=$media_files"
    if [ "$MEDIA_KIND" = s3 ]; then
        echo "media_bucket=$MEDIA_BUCKET"
    else
        echo "source_media=$MEDIA_DIR"
    fi
    echo "timbre_commit=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)"
} >"$work/manifest.txt"
files=("$db_file" manifest.txt)
[ -n "$media_file" ] && files+=("$media_file")
(cd "$work" && sha256sum -- "${files[@]}" >SHA256SUMS)

chmod 700 "$work"
mv "$work" "$dest"
trap - EXIT
echo "$dest"
