#!/usr/bin/perl
# sisimai.pl FILE... - one line per recipient:
#   file reason recipient smtpagent smtpcommand deliverystatus diagnosticcode
# A file Sisimai cannot parse prints reason "(none)".
use strict; use warnings;
use Sisimai;
binmode STDOUT, ':raw';
for my $f (@ARGV) {
    my $v = eval { Sisimai->make($f, 'delivered' => 1) } || [];
    unless (@$v) { print join("\t", $f, '(none)', '', '', '', '', ''), "\n"; next }
    for my $e (@$v) {
        my $d = $e->diagnosticcode // ''; $d =~ s/[\t\r\n]+/ /g;
        print join("\t", $f, $e->reason // '', $e->recipient->address // '',
            $e->smtpagent // '', $e->smtpcommand // '', $e->deliverystatus // '', $d), "\n";
    }
}
