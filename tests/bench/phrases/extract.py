#!/usr/bin/env python3
"""Pull every phrase out of Sisimai's Reason/*.pm match lists.

Output (stdout): TSV  reason <TAB> kind <TAB> phrase
  kind = index  : a plain string from a `state $index = [...]` array
         pairs  : a two-piece pattern joined with " xx " (none in 4.25.15)
         regex  : one literal instance generated from one alternative of a
                  `state $regex = qr{...}x` (see expand() for the rules)
Skipped alternatives go to stderr (and to skipped.tsv when -s FILE given).
`$isnot` arrays (Rejected.pm's exclusions) are not match lists and are skipped.

Phrases with a leading/trailing space get the filler word on that side.
Every instance is later checked by check.pl: it must make the module's own
match() return 1, else it is moved to the skipped list.
"""
import glob, os, re, sys

SRC = os.environ.get('SISIMAI_REASON_DIR', '/usr/share/perl5/Sisimai/Reason')
FILL = 'xyz'          # stands for [^ ]+ and similar "any word" pieces

def perl_strings(body):
    """Literal strings in a Perl array body (single or double quoted)."""
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == '#':
            j = body.find('\n', i)
            i = len(body) if j < 0 else j
            continue
        if c in "'\"":
            q = c; j = i + 1; s = ''
            while body[j] != q:
                if body[j] == '\\':
                    s += body[j + 1]; j += 2; continue
                s += body[j]; j += 1
            out.append(s)
            i = j + 1
            continue
        i += 1
    return out

def strip_x(rx):
    """Drop /x whitespace and comments (outside character classes)."""
    out = ''; i = 0; incls = False
    while i < len(rx):
        c = rx[i]
        if c == '\\':
            out += rx[i:i + 2]; i += 2; continue
        if incls:
            out += c
            if c == ']':
                incls = False
            i += 1; continue
        if c == '[':
            incls = True; out += c; i += 1
            if rx[i] == '^': out += '^'; i += 1
            if rx[i] == ']': out += ']'; i += 1   # leading ] is literal
            continue
        if c == '#':
            j = rx.find('\n', i)
            i = len(rx) if j < 0 else j
            continue
        if c.isspace():
            i += 1; continue
        out += c; i += 1
    return out

class Skip(Exception):
    pass

def cls_instance(body):
    """One character for a character class body."""
    if body.startswith('^'):
        return FILL          # [^ ]+ -> a word
    if body == '0-9a-z_':
        return 'ofr004_'     # Orange/La Poste error labels: OFR004_510, LPN007_416
    if body.startswith('0-9') or body.startswith('a-z'):
        return 'a' if body.startswith('a') else '1'
    if body == ' ' or body.startswith(' '):
        return ' '
    if body.startswith('\\'):
        return {'t': '\t'}.get(body[1], body[1])
    return body[0]

def parse_seq(rx, i):
    """Parse a sequence until | or ) ; return (list of alternatives-of-items, i).
    Returns a list of strings (all expansions of this sequence)."""
    alts = []           # alternatives at this level
    cur = ['']          # expansions of the current branch
    while i < len(rx):
        c = rx[i]
        if c == ')':
            break
        if c == '|':
            alts.extend(cur); cur = ['']; i += 1; continue
        # one atom -> list of expansions
        if c == '(':
            j = i + 1
            if rx.startswith('?:', j) or rx.startswith('?>', j):
                j += 2
            elif rx[j] == '?':
                raise Skip('unsupported group ' + rx[i:i + 4])
            sub, j = parse_seq(rx, j)
            assert rx[j] == ')'
            atom = sub; i = j + 1
        elif c == '[':
            j = i + 1
            if rx[j] == '^': j += 1
            if rx[j] == ']': j += 1
            while rx[j] != ']':
                j += 2 if rx[j] == '\\' else 1
            body = rx[i + 1:j]
            atom = [cls_instance(body)]; i = j + 1
        elif c == '\\':
            e = rx[i + 1]
            if e == 'd':
                atom = ['1']
            elif e in 'AZz':
                if e == 'A':
                    raise Skip('anchored at start (\\A)')
                atom = ['']     # end anchor: phrase is put at the end
            elif e == 's':
                atom = [' ']
            else:
                atom = [e]
            i += 2
        elif c == '.':
            # ".+" -> one space (keeps words apart), "." -> a literal dot
            atom = [' ' if rx[i + 1:i + 2] == '+' else '.']; i += 1
        else:
            atom = [c]; i += 1
        # quantifier
        q = rx[i] if i < len(rx) else ''
        if q == '?':
            # an optional apostrophe is kept (isn't, don't); anything else optional is dropped
            atom = ["'"] if atom == ["'"] else ['']; i += 1
        elif q == '*':
            atom = ['']; i += 1
        elif q == '+':
            i += 1
        elif q == '{':
            j = rx.index('}', i)
            n = int(rx[i + 1:j].split(',')[0])
            atom = [a * n if a != FILL else a for a in atom]
            # \d{3} -> 111 ; make it look like a reply code
            atom = ['550' if a == '111' else a for a in atom]
            i = j + 1
        if i < len(rx) and rx[i] == '?':   # lazy
            i += 1
        cur = [a + b for a in cur for b in atom]
    alts.extend(cur)
    return alts, i

def top_alternatives(rx):
    """Split the outer (?>...) into its top-level alternatives (as source)."""
    rx = rx.strip()
    if rx.startswith('(?>') and rx.endswith(')'):
        rx = rx[3:-1]
    parts = []; depth = 0; incls = False; start = 0; i = 0
    while i < len(rx):
        c = rx[i]
        if c == '\\': i += 2; continue
        if incls:
            if c == ']': incls = False
        elif c == '[':
            incls = True
            if rx[i + 1] == '^': i += 1
            if rx[i + 1] == ']': i += 1
        elif c == '(': depth += 1
        elif c == ')': depth -= 1
        elif c == '|' and depth == 0:
            parts.append(rx[start:i]); start = i + 1
        i += 1
    parts.append(rx[start:])
    return parts

# Hand-made instances for alternatives the expander gets wrong.
HAND = {
    # UserUnknown: "550[-[ ]]5" is a class "[-[ ]" then "]" (a Sisimai typo)
    'said:[ ]550[-[ ]]5[.]1[.]1[ ][^ ]+[ ]user[ ]unknown[ ]': None,
}

def main():
    skipped = []
    rows = []
    for path in sorted(glob.glob(os.path.join(SRC, '*.pm'))):
        reason = os.path.basename(path)[:-3].lower()
        text = open(path, encoding='utf-8', errors='surrogateescape').read()
        m = re.search(r'^sub match \{.*?^\}', text, re.S | re.M)
        if not m:
            continue
        body = m.group(0)
        for name, arr in re.findall(r'state \$(\w+)\s*=\s*\[(.*?)\n\s*\];', body, re.S):
            if name == 'isnot':
                for s in perl_strings(arr):
                    skipped.append((reason, 'isnot', s, 'exclusion list, not a match list'))
                continue
            kind = 'pairs' if name == 'pairs' else 'index'
            for s in perl_strings(arr):
                if kind == 'pairs':
                    s = ' xx '.join(s) if isinstance(s, (list, tuple)) else s
                rows.append((reason, kind, s))
        for name, delim, rx in re.findall(r'state \$(\w+)\s*=\s*qr([{/])(.*?)(?:\}x|/);', body, re.S):
            flat = strip_x(rx) if delim == '{' else rx
            for alt in top_alternatives(flat):
                try:
                    if alt in HAND:
                        if HAND[alt] is None:
                            raise Skip('malformed class in Sisimai source')
                        insts = [HAND[alt]]
                    else:
                        insts, j = parse_seq(alt, 0)
                        if j != len(alt):
                            raise Skip('unbalanced')
                except Skip as e:
                    skipped.append((reason, 'regex', alt, str(e)))
                    continue
                seen = set()
                for s in insts:
                    if s.strip() and s not in seen:
                        seen.add(s)
                        rows.append((reason, 'regex', s))
    # Sisimai trims and squeezes the diagnostic, so a phrase's edge spaces
    # only survive with a word beyond them: " is currently suspended" ->
    # "xyz is currently suspended", "spam score " -> "spam score xyz".
    # An instance needing two spaces in a row can never match after Sisimai's
    # own squeezing (a dead pattern): skipped.
    fixed = []
    for reason, kind, s in rows:
        if '  ' in s.strip(' '):
            skipped.append((reason, kind, s, 'needs consecutive spaces, which Sisimai squeezes (dead pattern)'))
            continue
        if s.startswith(' '):
            s = FILL + s
        if s.endswith(' '):
            s = s + FILL
        fixed.append((reason, kind, s))
    rows = fixed
    seen = set()
    for r in rows:
        if r in seen:
            continue
        seen.add(r)
        print('\t'.join(r))
    for s in skipped:
        print('SKIP\t' + '\t'.join(s), file=sys.stderr)

if __name__ == '__main__':
    main()
