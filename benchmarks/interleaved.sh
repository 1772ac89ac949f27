#!/bin/bash
# issue 15, 2026-12-03: the default study interleaved with lavaan's study bootstrap (one BLAS thread, then
# OpenBLAS's default threads), so that both are timed in the same spell of this machine's drifting speed;
# then --jobs 1 and the 10,000 / 100,000-respondent runs. Needs benchmarks/speed.sh's outputs first
# (/tmp/x: the study's model.lav and cleaned_data.csv; /tmp/sim_N.csv). Timings go to /tmp/final_times.txt.
cd "$(dirname "$0")/.."
python -m compileall -q sem_cocreate
T='%e %U %S %M'
O=/tmp/final_times.txt; : > $O
py() { for i in 1 2 3 4; do /usr/bin/time -a -o $O -f "study $T" python -m sem_cocreate fit --out /tmp/xf --overwrite > /dev/null 2>/dev/null; done; }
py
OPENBLAS_NUM_THREADS=1 /usr/bin/time -a -o $O -f "Rstudy1 $T" Rscript benchmarks/lavaan_study_boot.R /tmp/x/model.lav /tmp/x/cleaned_data.csv > /dev/null 2>&1
py
/usr/bin/time -a -o $O -f "Rstudy $T" Rscript benchmarks/lavaan_study_boot.R /tmp/x/model.lav /tmp/x/cleaned_data.csv > /dev/null 2>&1
py
/usr/bin/time -a -o $O -f "studyj1 $T" python -m sem_cocreate fit --out /tmp/xj1 --overwrite --jobs 1 > /dev/null 2>/dev/null
for N in 10000 100000; do /usr/bin/time -a -o $O -f "fit$N $T" python -m sem_cocreate fit --data /tmp/sim_$N.csv --bootstrap 200 --out /tmp/out$N --overwrite > /dev/null 2>/dev/null; done
