#!/bin/sh
# test_manpage.sh BINARY MANPAGE.scd: every command, option, environment
# variable and exit code that the binary's help lists is in the man page, so
# the two cannot drift apart. Nothing is hard-coded: the commands come from
# `samizdat --help` (the lines under "commands:"), the options of each from
# `samizdat COMMAND --help`, the global options, variables and exit codes
# from the main help. In the man page a command is an entry line starting
# with *command* (or *command subcommand*), and each of its options must
# appear as *--option* in that command's entries.
set -eu
bin=$1
man=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
# Help needs no data directory, but keep anything the binary might touch
# away from the real one.
export SAMIZDAT_DATA="$work/data" HOME="$work"
"$bin" --help >"$work/main.txt"

# The usage lines of the commands: two spaces, then the command; longer
# usages continue on lines indented further.
awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on && /^  [a-z]/ { print }' \
    "$work/main.txt" >"$work/usages"

# Each usage line gives one or more entries: "dht lookup AUTHOR... | dht
# find-node ID" gives "dht lookup" and "dht find-node"; an alternative that
# starts with no plain word (inside [...]) gives none.
awk '{
    n = split($0, alt, / \| /)
    for (i = 1; i <= n; i++) {
        k = split(alt[i], w, /[ \t]+/)
        entry = ""
        for (j = 1; j <= k; j++) {
            if (w[j] == "") continue
            if (w[j] !~ /^[a-z][a-z0-9-]*$/) break
            entry = entry == "" ? w[j] : entry " " w[j]
        }
        if (entry != "") print entry
    }
}' "$work/usages" | awk '!seen[$0]++' >"$work/entries"
awk '{ print $1 }' "$work/entries" | awk '!seen[$0]++' >"$work/commands"

failures=0
checks=0
miss() {
    echo "FAIL $*"
    failures=$((failures + 1))
}

ncommands=$(wc -l <"$work/commands")
if [ "$ncommands" -lt 10 ]; then
    miss "found only $ncommands commands in 'samizdat --help'; has its format changed?"
fi

# Entries: a line of the man page starting with *dht lookup* or *post* ...
while read -r entry; do
    checks=$((checks + 1))
    if ! grep -qE "^\*$entry(\*| )" "$man"; then
        miss "command '$entry' (samizdat --help) has no entry in $man"
    fi
done <"$work/entries"

# Options, command by command, within that command's entries: from an entry
# line of the command to the next entry line of another command or heading.
noptions=0
while read -r cmd; do
    "$bin" "$cmd" --help >"$work/cmd.txt" 2>&1 || {
        miss "samizdat $cmd --help failed"
        continue
    }
    awk -v c="$cmd" '
        /^#/ { on = 0; next }
        /^\*[a-z]/ {
            word = substr($0, 2)
            sub(/[* ].*$/, "", word)
            on = (word == c)
        }
        on { print }' "$man" >"$work/block"
    # shellcheck disable=SC2013 # words, not lines
    for opt in $(grep -oE -- '--[a-z][a-z0-9-]*' "$work/cmd.txt" | sort -u); do
        checks=$((checks + 1))
        noptions=$((noptions + 1))
        if ! grep -qF -- "*$opt*" "$work/block"; then
            miss "option $opt (samizdat $cmd --help) is not in the entry of '$cmd' in $man"
        fi
    done
done <"$work/commands"
if [ "$noptions" -lt 10 ]; then
    miss "found only $noptions command options; has the format of COMMAND --help changed?"
fi

# Global options: the lines under "global options:".
awk '/^global options/ { on = 1; next } on && /^$/ { exit } on { print }' "$work/main.txt" \
    >"$work/globals"
nglobal=0
# shellcheck disable=SC2013 # words, not lines
for opt in $(grep -oE -- '--[a-z][a-z0-9-]*' "$work/globals" | sort -u); do
    checks=$((checks + 1))
    nglobal=$((nglobal + 1))
    if ! grep -qF -- "*$opt*" "$man"; then
        miss "global option $opt (samizdat --help) is not in $man"
    fi
done
[ "$nglobal" -ge 2 ] || miss "found only $nglobal global options in samizdat --help"

# Environment variables named anywhere in the help texts: an entry each.
cat "$work/main.txt" >"$work/all.txt"
while read -r cmd; do
    "$bin" "$cmd" --help >>"$work/all.txt" 2>&1 || true
done <"$work/commands"
for var in $(grep -oE '\$[A-Z][A-Z0-9_]*' "$work/all.txt" | tr -d '$' | sort -u); do
    checks=$((checks + 1))
    if ! grep -qE "^\*$var\*" "$man"; then
        miss "environment variable $var (named in the help) has no entry in $man"
    fi
done

# Exit codes: "exit codes: 0 ok, 1 error, ..." in the main help.
codes=$(grep -E '^exit codes:' "$work/main.txt" | grep -oE '[0-9]+' || true)
[ -n "$codes" ] || miss "no 'exit codes:' line in samizdat --help"
for code in $codes; do
    checks=$((checks + 1))
    if ! grep -qE "^\*$code\*$" "$man"; then
        miss "exit code $code (samizdat --help) has no entry in $man"
    fi
done

if [ $failures -ne 0 ]; then
    echo "$failures of $checks checks failed"
    exit 1
fi
echo "ok: $ncommands commands, $(wc -l <"$work/entries") entries, $noptions command options," \
    "$nglobal global options, the variables and exit codes of the help are in $man ($checks checks)"
