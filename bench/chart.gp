# gnuplot script of bench/chart.sh: make bench's figures as one PNG, hookd beside the baseline.
# Variables (gnuplot -e): dir (the data files chart.sh wrote), out (the PNG), title, and the top of each
# panel's y axis: ymax_rate, ymax_ms (log scale), ymax_mb. Data files, one row per category:
#   rate.dat    label hookd baseline ratio   (a) ingest req/s, (b) drain deliveries/s, (c) delivered/s
#   latency.dat label hookd baseline ratio   (c) accept->delivered p50 and p99, ms
#   memory.dat  label hookd baseline ratio   peak RSS, MB
# A missing figure (no baseline) is "-": its bar and its ratio are left out.

set terminal pngcairo size 1500,600 font "DejaVu Sans,11" noenhanced
set output out
set datafile missing "-"
set style fill solid 0.9 border -1
set boxwidth 0.34
set grid ytics lc rgb "#dddddd"
set border 3
set xtics nomirror scale 0
set ytics nomirror
set key top left horizontal
set xrange [-0.6:*]
set tmargin 4 # the same for every panel, whatever its title's lines
set bmargin 2.5

hookd = "#1f6fb4"
baseline = "#e08a2c"
k(v) = v >= 1000 ? sprintf("%.1fk", v / 1000.0) : sprintf("%.0f", v)
ms(v) = v >= 10 ? sprintf("%.0f", v) : sprintf("%.1f", v)
x_(v) = sprintf("%.2fx", v)
top(a, b) = (b == b && b > a) ? b : a # b == b is false for NaN

set multiplot title title font ",13"

# ---- throughput: the three phases
set origin 0, 0
set size 0.52, 0.93
set title "throughput (higher is better), ratio hookd / baseline"
set ylabel "per second"
set format y "%.0s%c"
set yrange [0:ymax_rate]
set xrange [-0.6:2.6]
plot dir . "/rate.dat" using ($0 - 0.18):2:xtic(1) with boxes lc rgb hookd title "hookd", \
     "" using ($0 + 0.18):3 with boxes lc rgb baseline title "baseline", \
     "" using ($0 - 0.18):2:(k($2)) with labels offset 0, 0.7 notitle, \
     "" using ($0 + 0.18):3:(k($3)) with labels offset 0, 0.7 notitle, \
     "" using 0:(top($2, $3) + ymax_rate * 0.07):(x_($4)) with labels font ",13" tc rgb "#333333" offset 0, 0.7 notitle

# ---- latency while ingesting and delivering
set origin 0.52, 0
set size 0.27, 0.93
set title "(c) accept -> delivered (lower is better)"
set ylabel "ms (log scale)"
set logscale y
set format y "%g"
set yrange [1:ymax_ms]
set xrange [-0.6:1.6]
unset key
plot dir . "/latency.dat" using ($0 - 0.18):2:xtic(1) with boxes lc rgb hookd, \
     "" using ($0 + 0.18):3 with boxes lc rgb baseline, \
     "" using ($0 - 0.18):2:(ms($2)) with labels offset 0, 0.7, \
     "" using ($0 + 0.18):3:(ms($3)) with labels offset 0, 0.7, \
     "" using 0:(top($2, $3) * 2.2):(x_($4)) with labels font ",13" tc rgb "#333333" offset 0, 0.7

# ---- memory
set origin 0.79, 0
set size 0.21, 0.93
set title "peak RSS (lower is better)\nthe baseline: ingest + worker + Redis"
set ylabel "MB"
unset logscale y
set format y "%.0f"
set yrange [0:ymax_mb]
set xrange [-0.6:0.6]
plot dir . "/memory.dat" using ($0 - 0.18):2:xtic(1) with boxes lc rgb hookd, \
     "" using ($0 + 0.18):3 with boxes lc rgb baseline, \
     "" using ($0 - 0.18):2:(ms($2)) with labels offset 0, 0.7, \
     "" using ($0 + 0.18):3:(ms($3)) with labels offset 0, 0.7, \
     "" using 0:(top($2, $3) + ymax_mb * 0.07):(x_($4)) with labels font ",13" tc rgb "#333333" offset 0, 0.7

unset multiplot
