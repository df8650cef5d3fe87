#!/usr/bin/env bash
# leadsync-seed against Azurite: bulk writes exactly N rows over P partitions
# (checked with a full query through its own `count`), reruns are upserts,
# update rewrites exactly the rows asked for, ties writes one batch.
# Needs LEADSYNC_TEST_AZURITE (a connection string) and LEADSYNC_TEST_BIN
# (leadsync-seed sits beside it at the top of the build tree).
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }

[ -n "${LEADSYNC_TEST_AZURITE:-}" ] ||
    fail "LEADSYNC_TEST_AZURITE is not set: integration tests need Azurite; run scripts/test"
[ -n "${LEADSYNC_TEST_BIN:-}" ] || fail "LEADSYNC_TEST_BIN is not set"
SEED="$(dirname "$LEADSYNC_TEST_BIN")/leadsync-seed"
[ -x "$SEED" ] || fail "no leadsync-seed at $SEED"

export LEADSYNC_CONNECTION_STRING="$LEADSYNC_TEST_AZURITE"
# A table of its own, so tests sharing one Azurite do not see each other.
export LEADSYNC_TABLE="SeedTest$$x$RANDOM"

count() { "$SEED" count "$@"; }
expect() { # expect WHAT EXPECTED ACTUAL
    [ "$2" = "$3" ] || fail "$1: expected $2, got $3"
    echo "ok - $1 ($3)"
}

out="$("$SEED" bulk 2500 --partitions 5 --seed 42)"
echo "$out"
grep -Eq '^wrote 2500 rows over 5 partitions \(seed 42\) in [0-9.]+ s: [0-9]+ rows/s$' <<<"$out" ||
    fail "bulk summary line: $out"
expect "bulk 2500 rows" 2500 "$(count)"

# Spread: 2500 rows over 5 partitions is 500 each (row i goes to i mod 5).
parts="$(count --filter "PartitionKey eq '1:2F1:2F2026'")"
expect "rows in the first partition" 500 "$parts"
expect "rows in the fifth partition" 500 "$(count --filter "PartitionKey eq '1:2F5:2F2026'")"
expect "no sixth partition" 0 "$(count --filter "PartitionKey eq '1:2F6:2F2026'")"

# Every row has the marketplace's properties filled.
expect "bulk rows carry the marketplace shape" 2500 \
    "$(count --filter "OfferDisplayName ne '' and LeadSource ne '' and CustomerInfo ne ''")"

# Deterministic upserts: the same load again changes nothing in the count.
"$SEED" bulk 2500 --partitions 5 --seed 42 >/dev/null
expect "rerun of the same bulk" 2500 "$(count)"

# --start continues the index space; another seed gives other keys.
"$SEED" bulk 500 --partitions 5 --seed 42 --start 2500 >/dev/null
expect "bulk --start 2500 adds 500" 3000 "$(count)"
"$SEED" bulk 100 --partitions 5 --seed 43 >/dev/null
expect "another seed adds its own rows" 3100 "$(count)"

# update rewrites exactly N rows (indices 0..N-1) with a new description.
before="$(count --filter "Description eq 'Synthetic lead 7 (seed 42)'")"
expect "row 7 has its original description" 1 "$before"
"$SEED" update 37 --partitions 5 --seed 42 --revision 3 >/dev/null
expect "update keeps the count" 3100 "$(count)"
expect "row 7 rewritten" 1 \
    "$(count --filter "Description eq 'Synthetic lead 7 (seed 42), revision 3: follow-up requested'")"
expect "row 37 untouched" 1 "$(count --filter "Description eq 'Synthetic lead 37 (seed 42)'")"
rewritten=0
for i in 0 1 17 36; do
    n="$(count --filter "Description eq 'Synthetic lead $i (seed 42), revision 3: follow-up requested'")"
    rewritten=$((rewritten + n))
done
expect "sampled rows 0, 1, 17, 36 rewritten" 4 "$rewritten"

# ties: one batch, one partition.
"$SEED" ties 100 --seed 5 >/dev/null
expect "ties 100 in their own partition" 100 "$(count --filter "PartitionKey eq '12:2F31:2F2026'")"

# Usage errors exit 64 and write nothing.
set +e
"$SEED" ties 101 2>/dev/null
rc=$?
"$SEED" bulk 2>/dev/null
rc2=$?
"$SEED" frobnicate 2>/dev/null
rc3=$?
set -e
expect "ties over 100 is a usage error" 64 "$rc"
expect "bulk without N is a usage error" 64 "$rc2"
expect "unknown command is a usage error" 64 "$rc3"
expect "nothing written by usage errors" 3200 "$(count)"
echo "PASS"
