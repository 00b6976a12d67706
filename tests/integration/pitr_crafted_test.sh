#!/usr/bin/env bash
# dbrestore pitr of crafted base backups (no server needed): the archive is
# repository input, so device nodes, FIFOs, links, '..' and absolute paths
# are refused, setuid/world-writable modes are not carried over, everything
# is owned by the data directory's owner, and a tablespace goes outside
# --data-dir only where the operator says.  Run as root, this is the case
# that matters (pitr as root could otherwise create device nodes).
source "$(dirname "$0")/lib.sh"
require_binaries

REPO="$BD_TMP/repo"
OWNER="$(id -un)"
[ "$(id -u)" -eq 0 ] && OWNER=bdtest
own_dir() { mkdir -p "$1" && chown "$OWNER:" "$1"; }

# craft ID LOCATION ENTRY...: a complete-looking base backup whose base.tar
# holds the entries (NAME:TYPE:MODE[:DATA-or-LINK]; TYPE f d l h c p) and,
# when LOCATION is not empty, tablespace 16384 recorded at LOCATION with a
# 16384.tar of one file.  Checksums are right: only the content is hostile.
craft() {
	python3 - "$REPO" "$@" <<'EOF'
import hashlib, io, json, os, sys, tarfile
repo, bid, location, specs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
os.makedirs(repo, exist_ok=True)
marker = os.path.join(repo, "backupd.repo")
if not os.path.exists(marker):
    with open(marker, "w") as f:
        json.dump({"format": 1, "created": "2026-11-01T00:00:00Z", "tool_version": "0.1.0",
                   "cipher": "none"}, f)
d = os.path.join(repo, "src", "backups", bid)
os.makedirs(d)
types = {"f": tarfile.REGTYPE, "d": tarfile.DIRTYPE, "l": tarfile.SYMTYPE, "h": tarfile.LNKTYPE,
         "c": tarfile.CHRTYPE, "p": tarfile.FIFOTYPE}
def tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for spec in entries:
            name, typ, mode, *rest = spec.split(":", 3)
            i = tarfile.TarInfo(name)
            i.type, i.mode, i.mtime = types[typ], int(mode, 8), 1795256004
            data = (rest[0] if rest else "").encode()
            if typ in "lh":
                i.linkname = rest[0]
            if typ == "c":
                i.devmajor, i.devminor = 1, 3
            if typ == "f":
                i.size = len(data)
                t.addfile(i, io.BytesIO(data))
            else:
                t.addfile(i)
    return buf.getvalue()
objects = []
def store(name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    objects.append({"name": name, "size": len(data), "stored_size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(), "compressed": False})
store("base.tar", tar(specs))
info = {"system_identifier": "7000000000000000001", "server_version_num": 150000,
        "wal_segment_size": 16777216, "start_lsn": "0/2000028", "stop_lsn": "0/2000100",
        "timeline": 1, "stop_timeline": 1, "wal_start_segment": "000000010000000000000002",
        "wal_stop_segment": "000000010000000000000002", "stop_time_us": 1795256004000000}
if location:
    info["tablespaces"] = [{"oid": "16384", "location": location}]
    store("16384.tar", tar(["PG_15_202209061/:d:0777", "PG_15_202209061/1/:d:0777",
                            "PG_15_202209061/1/16385:f:4755:in the tablespace"]))
m = {"format": 1, "id": bid, "name": "src", "engine": "postgresql", "kind": "basebackup",
     "started": "2026-11-01T00:00:00Z", "finished": "2026-11-01T00:00:01Z", "info": info,
     "objects": objects}
with open(os.path.join(d, "manifest.json"), "w") as f:
    json.dump(m, f)
EOF
}

GOOD=("./:d:0755" "PG_VERSION:f:0644:15" "global/:d:0700" "global/pg_control:f:0600:control")
craft 20261101T000001Z "" "${GOOD[@]}" "dev/null:c:0666"
craft 20261101T000002Z "" "${GOOD[@]}" "global/fifo:p:0666"
craft 20261101T000003Z "" "${GOOD[@]}" "global/passwd:h:0644:/etc/passwd"
craft 20261101T000004Z "" "${GOOD[@]}" "postgresql.conf:l:0777:$BD_TMP/outside"
craft 20261101T000005Z "" "${GOOD[@]}" "../escape:f:0644:x"
craft 20261101T000006Z "" "${GOOD[@]}" "$BD_TMP/outside/abs:f:0644:x"
craft 20261101T000007Z "" "${GOOD[@]}" "base/:d:0777" "base/1/:d:1777" \
	"base/1/1259:f:6755:setuid and setgid" "pg_stat/:d:0777" "world:f:0666:w"
craft 20261101T000008Z "$BD_TMP/victim" "${GOOD[@]}" "pg_tblspc/:d:0700" \
	"pg_tblspc/16384:l:0777:/etc"
craft 20261101T000009Z "$BD_TMP/a/../victim" "${GOOD[@]}"
craft 20261101T000010Z "victim" "${GOOD[@]}"
mkdir -p "$BD_TMP/outside"
# the WAL the crafted backups need (their info says 000000010000000000000002):
# a segment with a valid long page header, archived as archive_command would,
# so pitr's WAL check passes and the archive's contents are what is tested
mkdir -p "$BD_TMP/wal"
python3 - "$BD_TMP/wal/000000010000000000000002" <<'EOF2'
import struct, sys
seg = 16 * 1024 * 1024
hdr = struct.pack("<HHIQI4xQII", 0xD110, 0x0002, 1, 2 * seg, 0, 7000000000000000001, seg, 8192)
with open(sys.argv[1], "wb") as f:
    f.write(hdr + bytes(seg - len(hdr)))
EOF2
run "$BACKUPD" wal-push --repo "$REPO" --name src "$BD_TMP/wal/000000010000000000000002"
assert_rc "the backups' WAL segment is archived" 0

# nothing_special DIR: no device node, FIFO, socket, setuid/setgid/sticky or world-writable entry
nothing_special() {
	[ -z "$(find "$1" \( -type c -o -type b -o -type p -o -type s -o -perm /7002 \) -print)" ]
}

# pitr ID DIR [OPTIONS...]: dbrestore pitr as the user running the suite (root in CI)
pitr() {
	local id="$1" dir="$2"
	shift 2
	run "$DBRESTORE" pitr --repo "$REPO" --name src --backup "$id" --data-dir "$dir" "$@"
}

# ---------------------------------------------------------------------------
note "entries that are not regular files or directories are refused"
n=0
for c in "20261101T000001Z dev/null': character device" "20261101T000002Z global/fifo': FIFO" \
	"20261101T000003Z global/passwd': hard link" "20261101T000004Z postgresql.conf': symbolic link" \
	"20261101T000005Z ../escape': '..' in the path" "20261101T000006Z $BD_TMP/outside/abs': absolute path"; do
	id="${c%% *}"
	why="${c#* }"
	n=$((n + 1))
	own_dir "$BD_TMP/r$n"
	pitr "$id" "$BD_TMP/r$n/data"
	assert_rc "pitr of crafted backup $id is refused" 1
	assert_output_contains "the refusal names the entry and why ($why)" "$why, refused"
	check "nothing special created by $id" nothing_special "$BD_TMP/r$n"
	check_not "no recovery.signal after refusing $id" test -e "$BD_TMP/r$n/data/recovery.signal"
done
check "nothing written outside the data directories" test -z "$(ls -A "$BD_TMP/outside")"
check_not "no file escaped via '..'" test -e "$BD_TMP/r5/escape"

# ---------------------------------------------------------------------------
note "modes and owner are a data directory's, not the archive's"
own_dir "$BD_TMP/m"
pitr 20261101T000007Z "$BD_TMP/m/data"
assert_rc "pitr of a backup with setuid files and world-writable directories" 0
check "no setuid/setgid/sticky/world-writable bits" nothing_special "$BD_TMP/m"
assert_eq "files are 0600" "" "$(find "$BD_TMP/m/data" -type f ! -perm 0600 -print)"
assert_eq "directories are 0700" "" "$(find "$BD_TMP/m/data" -type d ! -perm 0700 -print)"
assert_eq "everything is owned by the data directory's owner ($OWNER)" "" \
	"$(find "$BD_TMP/m/data" ! -user "$OWNER" -print)"
assert_eq "the file's content is there" "setuid and setgid" "$(cat "$BD_TMP/m/data/base/1/1259")"

# ---------------------------------------------------------------------------
note "a tablespace outside --data-dir goes only where the operator says"
pitr 20261101T000008Z "$BD_TMP/t1/data"
assert_rc "pitr without a location for the tablespace is refused" 2
assert_output_contains "the refusal lists the tablespace and its recorded location" \
	"tablespaces outside the data directory (16384 at '$BD_TMP/victim')"
check_not "nothing written before the refusal (data directory)" test -e "$BD_TMP/t1"
check_not "nothing written before the refusal (recorded location)" test -e "$BD_TMP/victim"

pitr 20261101T000009Z "$BD_TMP/t2/data" --tablespaces-in-place
assert_rc "a recorded location with '..' is refused" 2
assert_output_contains "the refusal says why" "must be an absolute path without '.', '..'"
pitr 20261101T000010Z "$BD_TMP/t2/data" --tablespaces-in-place
assert_rc "a relative recorded location is refused" 2
check_not "nothing written for the refused locations" test -e "$BD_TMP/t2"

pitr 20261101T000008Z "$BD_TMP/t3/data" --tablespace-map "$BD_TMP/victim=$BD_TMP/t3/data/ts"
assert_rc "a tablespace inside the data directory is refused" 2
assert_output_contains "the refusal says it overlaps" "overlaps the data directory"
check_not "nothing written for the overlapping location" test -e "$BD_TMP/t3"

own_dir "$BD_TMP/t4"
pitr 20261101T000008Z "$BD_TMP/t4/data" --tablespace-map "$BD_TMP/victim=$BD_TMP/t4/ts"
assert_rc "pitr with the tablespace mapped" 0
assert_eq "the link points at the mapped location, not where the archive's link did" \
	"$BD_TMP/t4/ts" "$(readlink "$BD_TMP/t4/data/pg_tblspc/16384")"
assert_eq "the tablespace's file is 0600" 600 "$(stat -c %a "$BD_TMP/t4/ts/PG_15_202209061/1/16385")"
assert_eq "the tablespace is owned by the data directory's owner" "" \
	"$(find "$BD_TMP/t4/ts" "$BD_TMP/t4/data" ! -user "$OWNER" -print)"
check_not "the recorded location stays untouched" test -e "$BD_TMP/victim"

own_dir "$BD_TMP/victim"
touch "$BD_TMP/victim/precious"
own_dir "$BD_TMP/t5"
pitr 20261101T000008Z "$BD_TMP/t5/data" --tablespaces-in-place
assert_rc "in place, a non-empty recorded location is refused" 1
assert_output_contains "the refusal names the directory" "tablespace directory '$BD_TMP/victim' (tablespace 16384) is not empty"
check_not "nothing extracted before that refusal" test -e "$BD_TMP/t5/data"
rm -f "$BD_TMP/victim/precious"
pitr 20261101T000008Z "$BD_TMP/t5/data" --tablespaces-in-place
assert_rc "in place, an empty recorded location is accepted" 0
assert_eq "the link points at the recorded location" "$BD_TMP/victim" \
	"$(readlink "$BD_TMP/t5/data/pg_tblspc/16384")"

finish
