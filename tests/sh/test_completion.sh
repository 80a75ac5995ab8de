#!/bin/sh
# test_completion.sh COMPLETION_FILE BINARY: the bash completion, sourced in
# a fresh bash, completes commands, subcommands, options and option values of
# the real binary, through its completion function as bash would call it.
set -eu
file=$1
bin=$2
if ! command -v bash >/dev/null 2>&1; then
    echo "bash not found: skipped"
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM
export SAMIZDAT_DATA="$work/data" HOME="$work"
failures=0

# expect WANT WORD...: completing the command line WORD... (the last word
# being the one under the cursor, possibly empty) offers exactly WANT
# (space-separated, sorted).
expect() {
    want=$1
    shift
    got=$(bash -c '
        file=$1; shift
        source "$file"
        COMP_WORDS=("$@")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE="$*"
        COMP_POINT=${#COMP_LINE}
        _samizdat
        printf "%s\n" "${COMPREPLY[@]}" | LC_ALL=C sort | tr "\n" " "
    ' bash "$file" "$bin" "$@" | sed 's/ $//')
    if [ "$got" = "$want" ]; then
        echo "ok   samizdat ${*:-}<TAB> -> $want"
    else
        echo "FAIL samizdat ${*:-}<TAB>: got '$got', want '$want'"
        failures=$((failures + 1))
    fi
}

expect "follow following" fo
expect "unfollow" unf
expect "whoami" --data /tmp wh
expect "add" peer ""
expect "find-node lookup" dht ""
expect "--no-lan --no-relay --no-upnp --no-web" run --no
expect "--force --help" export --
expect "--help --json --raw" show --
expect "--data --help --json --version" --
expect "debug" run --log-level d
expect "timeline" help ti

# The command list is the binary's: every command of --help is offered.
all=$(SAMIZDAT_DATA="$work/data" "$bin" --help |
    awk '/^commands:/ { on = 1; next } on && /^$/ { exit } on && /^  [a-z]/ { print $1 }' |
    LC_ALL=C sort -u | tr '\n' ' ')
expect "$(printf '%s' "$all" | tr ' ' '\n' | sed '/^$/d' | { cat; echo help; } | LC_ALL=C sort |
    tr '\n' ' ' | sed 's/ $//')" ""

if [ $failures -ne 0 ]; then
    echo "$failures completion(s) wrong"
    exit 1
fi
echo "all completions as expected"
