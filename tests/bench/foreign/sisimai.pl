#!/usr/bin/perl
# sisimai.pl FILE... - Sisimai's reading of each file: one line per result,
# "file<TAB>recipient<TAB>reason" ("-<TAB>NONE" for a file it gives none).
use strict;
use warnings;
use Sisimai;

for my $f (@ARGV) {
	my $v = Sisimai->make($f, delivered => 1, vacation => 1) || [];
	if (!@$v) {
		print "$f\t-\tNONE\n";
		next;
	}
	printf "%s\t%s\t%s\n", $f, $_->recipient->address, $_->reason for @$v;
}
