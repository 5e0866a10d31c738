# gnuplot script of bench/ablation-plot.sh: the trade-off curve of the ablation benchmark.
# Variables set by the caller: terminal, outfile, title, dir (curve.dat, knob.dat, outside.dat:
# offline share %, p99 inflation %, label) and knobs, outside (1 where that file has a point).
eval "set terminal " . terminal
set output outfile
set title title noenhanced
set xlabel "offline share of the idle CPU (%)"
set ylabel "memcached p99 inflation over alone (median of rounds, %)"
set xrange [0:100]
set yrange [*<0:40<*]
set grid
set key outside right top vertical noenhanced
set arrow from 60, graph 0 to 60, graph 1 nohead dashtype 2 linecolor rgb "#888888"
set arrow from graph 0, first 25 to graph 1, first 25 nohead dashtype 2 linecolor rgb "#888888"
set label "target: <= +25% at >= 60%" at 61, 25 offset 0, 0.8 textcolor rgb "#666666"
cmd = "plot dir . '/curve.dat' using 1:2 with linespoints pointtype 7 linewidth 2 title 'colo, one point per target', "
cmd = cmd . "dir . '/curve.dat' using 1:2:3 with labels offset 0, 1 noenhanced notitle"
if (knobs) cmd = cmd . ", dir . '/knob.dat' using 1:2 with points pointtype 5 pointsize 1.5 title 'best agent-less knobs', dir . '/knob.dat' using 1:2:3 with labels offset 0, -1 noenhanced notitle"
if (outside) cmd = cmd . ", dir . '/outside.dat' using 1:2 with points pointtype 9 pointsize 1.5 title 'memcached outside colo'"
eval cmd
