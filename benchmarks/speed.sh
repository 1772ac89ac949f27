#!/bin/bash
# issue 15 rounds 3-5 (2026-12-02/03): same commands as benchmarks/README "Speed of the whole process"
# every timing line is appended to /tmp/speed_times.txt (the commands' own output goes to /dev/null)
cd "$(dirname "$0")/.."
# byte-compile the package first, as "pip install ." does: with PYTHONDONTWRITEBYTECODE=1 (set on these
# machines) an editable install otherwise recompiles its ~75 modules in every process (~0.2 s each)
python -m compileall -q sem_cocreate
T='%U %S %e %M'
echo "load $(cat /proc/loadavg)"
for i in 1 2 3; do /usr/bin/time -a -o /tmp/speed_times.txt -f "py1000 $T" python benchmarks/boot_process.py . 1000 auto; done
/usr/bin/time -a -o /tmp/speed_times.txt -f "R1000 $T" Rscript benchmarks/lavaan_boot.R tests/reference/med9/model.lav tests/reference/data/sim_med9.csv 1000 /tmp/pe1000.csv no 1 > /dev/null
for i in 1 2 3; do /usr/bin/time -a -o /tmp/speed_times.txt -f "py5000 $T" python benchmarks/boot_process.py . 5000 auto; done
/usr/bin/time -a -o /tmp/speed_times.txt -f "py5000j1 $T" python benchmarks/boot_process.py . 5000 1
/usr/bin/time -a -o /tmp/speed_times.txt -f "R5000 $T" Rscript benchmarks/lavaan_boot.R tests/reference/med9/model.lav tests/reference/data/sim_med9.csv 5000 /tmp/pe5000.csv no 1 > /dev/null
for i in 1 2 3; do /usr/bin/time -a -o /tmp/speed_times.txt -f "study $T" python -m sem_cocreate fit --out /tmp/x --overwrite > /dev/null 2>/dev/null; done
/usr/bin/time -a -o /tmp/speed_times.txt -f "studyj1 $T" python -m sem_cocreate fit --out /tmp/xj1 --overwrite --jobs 1 > /dev/null 2>/dev/null
/usr/bin/time -a -o /tmp/speed_times.txt -f "Rstudy $T" Rscript benchmarks/lavaan_study_boot.R /tmp/x/model.lav /tmp/x/cleaned_data.csv > /tmp/rstudy.out
# the same with one BLAS thread (lavaan's fastest setting here: OpenBLAS's second thread only costs time)
OPENBLAS_NUM_THREADS=1 /usr/bin/time -a -o /tmp/speed_times.txt -f "Rstudy1 $T" Rscript benchmarks/lavaan_study_boot.R /tmp/x/model.lav /tmp/x/cleaned_data.csv > /tmp/rstudy1.out
echo "load $(cat /proc/loadavg)"
for N in 10000 100000; do
  [ -f /tmp/sim_$N.csv ] || python -m sem_cocreate simulate --n $N --seed 15 --roles --careless 0.05 --out /tmp/sim_$N.csv > /dev/null 2>&1
  /usr/bin/time -a -o /tmp/speed_times.txt -f "fit$N $T" python -m sem_cocreate fit --data /tmp/sim_$N.csv --bootstrap 200 --out /tmp/out$N --overwrite > /dev/null 2>/dev/null
done
echo "load $(cat /proc/loadavg)"
python benchmarks/boot_floor.py med9 >> /tmp/speed_times.txt 2>/dev/null
python benchmarks/boot_floor.py default >> /tmp/speed_times.txt 2>/dev/null
