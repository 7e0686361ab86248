#!/usr/bin/perl
# tables.pl - print the per-reason phrase tables of Sisimai's Lhost/*.pm and
# Rhost/*.pm as TSV: module table reason kind text extra
#   kind str  a literal string (matched with index() or eq by Sisimai)
#   kind rx   a regular expression: text is the pattern source (newlines as \x1e),
#             extra starts with "x" when the /x modifier is on, else "-"
# Code-only tables and tables that are not about reasons go to stderr as
#   SKIPTABLE module table why
# Env SISIMAI_DIR (default /usr/share/perl5/Sisimai).
use strict; use warnings; use re qw(regexp_pattern);
my $dir = $ENV{SISIMAI_DIR} || '/usr/share/perl5/Sisimai';
my %reason = map { m{/(\w+)\.pm$} ? (lc($1) => 1) : () } glob("$dir/Reason/*.pm");
$reason{$_} = 1 for qw(undefined onhold disabled relayingdenied);
# tables that locate parts of a bounce rather than explain it
my %notreason = map { $_ => 1 } qw(startingof markingsof recommands resmtp connheader
    labeltable anotherset recordwide markingset permessage);
# tables mapping provider codes, status codes or category names to a reason
my %codetable = (
    errorcodes => 'provider error codes -> reason',
    statetable => 'Gmail "(state N)" numbers -> reason',
    statuslist => 'D.S.N. status regexes -> reason',
    bouncetype => 'SES bounceType/bounceSubType -> reason',
    ndrsubject => 'Exchange NDR codes (RESOLVER.ADR.*) -> reason',
    categories => 'X-PowerMTA-BounceCategory names -> reason',
);
binmode STDOUT, ':raw'; binmode STDERR, ':raw';
sub clean { my $s = shift; $s =~ s/[\t\n]/ /g; $s }
sub emit {
    my ($mod, $tab, $r, $v, $extra) = @_;
    if (ref $v eq 'Regexp') {
        my ($pat, $mods) = regexp_pattern($v);
        $pat =~ s/\n/\x1e/g; $pat =~ s/\t/ /g;
        print join("\t", $mod, $tab, $r, 'rx', $pat, ($mods =~ /x/ ? 'x' : '-') . ($extra ? " $extra" : '')), "\n";
    } else {
        print join("\t", $mod, $tab, $r, 'str', clean($v), '-' . ($extra ? " $extra" : '')), "\n";
    }
}
for my $f (glob("$dir/Lhost/*.pm"), glob("$dir/Rhost/*.pm")) {
    open my $fh, '<:raw', $f or die; local $/; my $t = <$fh>; close $fh;
    $t =~ s/\n__END__\n.*//s;
    (my $mod = $f) =~ s{.*/(\w+)/(\w+)\.pm$}{$1/$2};
    while ($t =~ /(?:(?:state|my)\s+)?\$(\w+)\s*=\s*\{/g) {
        my ($name, $start) = ($1, pos($t) - 1);
        next if $notreason{$name} || $name =~ /^(?:e|v|p|o|r)$/;
        my ($d, $i) = (0, $start);
        for (; $i < length $t; $i++) {
            my $c = substr($t, $i, 1);
            if ($c eq '#' && substr($t, $i - 1, 1) =~ /\s/) { $i = index($t, "\n", $i); next }
            $d++ if $c eq '{'; $d-- if $c eq '}';
            last if $d == 0;
        }
        my $src = substr($t, $start, $i - $start + 1);
        pos($t) = $i;
        if ($codetable{$name}) { print STDERR "SKIPTABLE\t$mod\t$name\t$codetable{$name}\n"; next }
        my $v = eval $src;
        if ($@ || ref $v ne 'HASH') { print STDERR "SKIPTABLE\t$mod\t$name\tcannot evaluate the table source\n"; next }
        next unless %$v;
        for my $k (sort keys %$v) {
            my $x = $v->{$k};
            if ($reason{$k}) {
                for my $e (ref $x eq 'ARRAY' ? @$x : ($x)) {
                    if (ref $e eq 'ARRAY') {
                        # [status, from, to, phrase] / [code, status, phrase] / [code, phrase]
                        my @c = @$e; my $p = pop @c;
                        emit($mod, $name, $k, $p, 'codes=' . join(',', map { $_ // '' } @c));
                    } else {
                        emit($mod, $name, $k, $e);
                    }
                }
            } elsif (!ref $x && defined $x && $reason{$x}) {
                emit($mod, $name, $x, $k);          # phrase => reason (TencentQQ)
            } else {
                print STDERR "SKIPTABLE\t$mod\t$name\tkey '$k' is not a reason\n";
                last;
            }
        }
    }
}
