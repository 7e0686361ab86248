#!/usr/bin/env python3
"""tables_expand.py TABLES.TSV OUTDIR - turn tables.pl rows into OUTDIR/phrases.tsv
(id, reason, modules, tables, kind, phrase, codes, japanese) and
OUTDIR/skipped.tsv (module, table, reason, source, why).

Strings are used as they are; regular expressions give one literal instance of
each top-level alternative, by the expander of the Reason/*.pm bench
(tests/bench/phrases/extract.py: parse_seq, strip_x, top_alternatives), after:
  \\A and \\z dropped (the phrase is put after "550 5.0.0 " anyway);
  an address piece (.+[@].+, [^ ]+[@][^ ]+, .+?[@].+?) -> u@example.org.
A phrase with a leading/trailing space gets a filler word on that side
(Amavis: "id=12345-01", GSuite: a DNS lookup text, else "xyz").
The same (reason, phrase) from several modules is one row (modules joined).
"""
import os, re, sys
sys.dont_write_bytecode = True  # (no __pycache__ in the source tree)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import extract as X  # noqa: E402

HAND = {  # generated text -> the text used (None: skipped)
    # a literal of Sisimai that is really a pattern (matched with index(), so dead)
    'Mailaddress is administrative?le?y disabled': 'Mailaddress is administratively disabled',
    # fragments completed the way they appear in the bounces
    ">: User unknown": "<u@example.org>: User unknown",
    'Your message was not delivered within': 'Your message was not delivered within 0 days and 1 hours.',
    # FML: "reject mail (?:.+:|from)[ ]," needs " , " after "from": no readable instance
    'reject mail : ,': None, 'reject mail from ,': None,
}
PREFIX = {'Lhost/Amavis': 'id=12345-01', 'Lhost/GSuite': "DNS type 'mx' lookup of example.org"}
JP = re.compile('[\u3040-\u30ff\u3400-\u9fff\uff00-\uffef]')
EMAIL = re.compile(r'(?:\.\+\??|\[\^ \]\+)\[@\](?:\.\+\??|\[\^ \]\+)')

def instances(pat, xflag):
    pat = pat.replace('\x1e', '\n')
    flat = X.strip_x(pat) if xflag else pat
    flat = EMAIL.sub('u[@]example[.]org', flat)
    flat = flat.replace('\\A', '').replace('\\z', '').replace('\\Z', '')
    # a word between two spaces: "542 .+ Rejected" -> "542 xyz Rejected"
    flat = re.sub(r'( |\[ \])\.\+\??(?= |\[ \])', r'\1' + X.FILL, flat)
    if xflag: flat = flat.strip()
    # unwrap one outer (?:...) / (?>...) so that its alternatives are taken one by one
    m = re.match(r'^\(\?[:>](.*)\)$', flat, re.S)
    if m:
        depth = 0; ok = True
        for i, c in enumerate(m.group(1)):   # the outer group must span it all
            if c == '(' and m.group(1)[i - 1:i] != '\\': depth += 1
            elif c == ')' and m.group(1)[i - 1:i] != '\\':
                depth -= 1
                if depth < 0: ok = False; break
        if ok: flat = '(?>' + m.group(1) + ')'
    out = []; skipped = []
    for alt in X.top_alternatives(flat):
        try:
            insts, j = X.parse_seq(alt, 0)
            if j != len(alt):
                raise X.Skip('unbalanced')
        except (X.Skip, IndexError, ValueError, AssertionError) as e:
            skipped.append((alt, 'regex too hard for the expander: %s' % e))
            continue
        for s in insts:
            if s.strip():
                out.append(s)
    return out, skipped

def main():
    src, outdir = sys.argv[1], sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    rows = {}; order = []; skipped = []
    for line in open(src, encoding='utf-8', errors='surrogateescape'):
        mod, tab, reason, kind, text, extra = line.rstrip('\n').split('\t', 5)
        codes = extra.split(' ', 1)[1][6:] if ' ' in extra else ''
        if kind == 'rx':
            insts, sk = instances(text, extra.startswith('x'))
            skipped += [(mod, tab, reason, a, why) for a, why in sk]
        else:
            insts = [text]
        for s in insts:
            s = re.sub(r'  +', ' ', s)
            if s.startswith(' '): s = PREFIX.get(mod, X.FILL) + s
            if s.endswith(' '): s = s + X.FILL
            if s in HAND or (kind == 'rx' and HAND.get(s, 1) is None):
                if HAND[s] is None:
                    skipped.append((mod, tab, reason, s, 'instance unreadable (Sisimai pattern needs " , ")'))
                    continue
                s = HAND[s]
            key = (reason, s)
            if key not in rows:
                rows[key] = {'mods': [], 'tabs': [], 'kind': kind, 'codes': []}
                order.append(key)
            r = rows[key]
            if mod not in r['mods']: r['mods'].append(mod)
            t = mod.split('/')[1] + '.' + tab
            if t not in r['tabs']: r['tabs'].append(t)
            if codes and codes not in r['codes']: r['codes'].append(codes)
    with open(os.path.join(outdir, 'phrases.tsv'), 'w', encoding='utf-8', errors='surrogateescape') as f:
        for n, key in enumerate(order, 1):
            r = rows[key]
            f.write('\t'.join(['%04d' % n, key[0], ','.join(r['mods']), ','.join(r['tabs']),
                               r['kind'], key[1], ';'.join(r['codes']),
                               'ja' if JP.search(key[1]) else '']) + '\n')
    with open(os.path.join(outdir, 'skipped.tsv'), 'a', encoding='utf-8', errors='surrogateescape') as f:
        for s in skipped:
            f.write('SKIP\t' + '\t'.join(x.replace('\n', ' ') for x in s) + '\n')
    print('%d phrases, %d regex alternatives skipped' % (len(order), len(skipped)), file=sys.stderr)

if __name__ == '__main__':
    main()
