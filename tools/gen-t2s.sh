#!/bin/sh
# gen-t2s.sh OPENCC_DATA_DIR — print a C file holding OpenCC's Traditional→Simplified
# dictionaries (TSPhrases, TSCharacters) as text, "key TAB value[ value...]" per line, for
# kb/t2s.c. Run by the Makefile; needs opencc_dict (Debian package opencc).
set -eu
dir=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for d in TSPhrases TSCharacters; do
    if ! opencc_dict -i "$dir/$d.ocd2" -o "$tmp/$d.txt" -f ocd2 -t text >"$tmp/log" 2>&1; then
        echo "gen-t2s.sh: cannot read $dir/$d.ocd2 with opencc_dict (install Debian's opencc):" >&2
        cat "$tmp/log" >&2
        exit 1
    fi
    if [ ! -s "$tmp/$d.txt" ]; then
        echo "gen-t2s.sh: $dir/$d.ocd2 holds no entries" >&2
        exit 1
    fi
done
printf '/* Generated from %s/TSPhrases.ocd2 and TSCharacters.ocd2 by tools/gen-t2s.sh: do not edit. */\n' "$dir"
printf '#include <stddef.h>\n'
for d in TSPhrases TSCharacters; do
    printf 'extern const char kb_t2s_%s[];\nconst char kb_t2s_%s[] = {\n' "$d" "$d"
    od -An -v -tx1 "$tmp/$d.txt" | sed 's/ \([0-9a-f][0-9a-f]\)/0x\1,/g'
    printf '0x00};\n'
done
