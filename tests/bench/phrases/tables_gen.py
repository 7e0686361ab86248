#!/usr/bin/env python3
"""tables_gen.py PHRASES.TSV OUTDIR - bounces per phrase of tables_expand.py,
with gen.py's layouts:
  NNNN-b.eml  Postfix DSN "said: 550 5.0.0 P (in reply to RCPT TO command)"
  NNNN-c.eml  qmail notice "Remote host said: 550 P"
  NNNN-d.eml  as b with "(in reply to end of DATA command)", only for the
              reasons decided after DATA (contenterror, spamdetected,
              virusdetected, policyviolation, filtered, mesgtoobig)
"""
import os, sys
sys.dont_write_bytecode = True  # (no __pycache__ in the source tree)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen import dsn, qmail  # noqa: E402

AFTER_DATA = {'contenterror', 'spamdetected', 'virusdetected', 'policyviolation', 'filtered',
              'mesgtoobig'}


def main():
    phrases, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    n = 0
    for line in open(phrases, encoding='utf-8', errors='surrogateescape'):
        id, reason, mods, tabs, kind, phrase = line.rstrip('\n').split('\t')[:6]
        files = [('b', dsn(id, phrase, 'b')), ('c', qmail(id, phrase))]
        if reason in AFTER_DATA:
            d = dsn(id, phrase, 'b')
            d = d.replace('(in reply to RCPT TO command)', '(in reply to end of DATA command)')
            d = d.replace('B%sb.' % id, 'B%sd.' % id).replace('dsn-%s-b@' % id, 'dsn-%s-d@' % id)
            files.append(('d', d))
        for v, text in files:
            with open(os.path.join(out, f'{id}-{v}.eml'), 'w', encoding='utf-8',
                      errors='surrogateescape', newline='\n') as f:
                f.write(text)
            n += 1


if __name__ == '__main__':
    main()
