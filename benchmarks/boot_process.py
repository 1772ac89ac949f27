"""Whole-process bootstrap timing of the 9-factor model (fit + bootstrap_draws + percentile table).

    /usr/bin/time -v python benchmarks/boot_process.py ROOT N_BOOT JOBS     # JOBS: an integer or "auto"

ROOT is a source tree (this repository, or an exported older commit for a before/after pair); the
table goes to /tmp/i15/tab_<ROOT name>_<N>_<JOBS>.csv so two trees' numbers can be compared.
lavaan's counterpart: ``/usr/bin/time -v Rscript benchmarks/lavaan_boot.R tests/reference/med9/model.lav
tests/reference/data/sim_med9.csv N_BOOT out.csv no 1``.
"""
import os, sys, time, resource, warnings, json
# the CLI's BLAS policy (sem_cocreate.inference.parallel.use_single_thread_blas), set before numpy loads as
# `python -m sem_cocreate` does: without it OpenBLAS's idle threads cost ~0.5 s of CPU at import alone
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
root = sys.argv[1]; n_boot = int(sys.argv[2]); jobs = None if sys.argv[3] == "auto" else int(sys.argv[3])
sys.path.insert(0, root)
import pandas as pd
from pathlib import Path
from sem_cocreate.inference.bootstrap import bootstrap_draws, bootstrap_estimates
from sem_cocreate.engine.fit import fit_sem
model = (Path(root)/"tests/reference/med9/model.lav").read_text()
data = pd.read_csv(Path(root)/"tests/reference/data/sim_med9.csv")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    res = fit_sem(model, data)
d = bootstrap_draws(res, n_boot=n_boot, seed=20240518, jobs=jobs, progress=False)
tab = bootstrap_estimates(res, d, ci="perc")
Path("/tmp/i15").mkdir(parents=True, exist_ok=True)
tab.to_csv(f"/tmp/i15/tab_{Path(root).name}_{n_boot}_{jobs}.csv", index=False)
from sem_cocreate.inference.parallel import shutdown_workers   # as the CLI: only a pool that exists
shutdown_workers()
