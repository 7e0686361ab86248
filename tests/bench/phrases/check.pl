#!/usr/bin/perl
# check.pl - keep only phrases that their own Sisimai::Reason::X->match() accepts.
# in: extract.py output on stdin; out: phrases.tsv (id reason kind phrase) on stdout,
# rejects to stderr as SKIP lines.
use strict; use warnings;
my %mod = map { lc($_) => $_ } map { m{/(\w+)\.pm$} ? $1 : () } glob('/usr/share/perl5/Sisimai/Reason/*.pm');
my $n = 0;
while (my $l = <STDIN>) {
    chomp $l;
    my ($reason, $kind, $phrase) = split /\t/, $l, 3;
    my $m = "Sisimai::Reason::$mod{$reason}";
    eval "require $m" or die $@;
    if ($m->match(lc $phrase)) {
        printf "%04d\t%s\t%s\t%s\n", ++$n, $reason, $kind, $phrase;
    } else {
        print STDERR "SKIP\t$reason\t$kind\t$phrase\tgenerated instance not matched by ${m}::match\n";
    }
}
