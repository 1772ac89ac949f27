"""Floor of the batched bootstrap refit: the cost of each step of one 50-resample chunk (timeit minima).

    python benchmarks/boot_floor.py med9       # the 9-factor model (tests/reference/med9)
    python benchmarks/boot_floor.py default    # the default study model, after `python -m sem_cocreate fit --out /tmp/x`
"""
import time, numpy as np, pandas as pd, warnings, timeit, sys
warnings.simplefilter('ignore')
from threadpoolctl import threadpool_limits
from sem_cocreate.engine.fit import fit_sem
from sem_cocreate.inference.bootstrap import _Resampler, _positive_definite, REFIT_GTOL
from sem_cocreate.engine.estimators._fastml import BatchMoments
which=sys.argv[1]
if which=='med9':
    d=pd.read_csv('tests/reference/data/sim_med9.csv'); m=open('tests/reference/med9/model.lav').read()
else:
    d=pd.read_csv('/tmp/x/cleaned_data.csv'); m=open('/tmp/x/model.lav').read()
r=fit_sem(m,d)
with threadpool_limits(limits=1):
    R=_Resampler(r,exclude_improper=True); f=R.fast
    W=[R._weights(7,b) for b in range(50)]
    n=R.X[0].shape[0]
    Wt=np.stack([w[0] for w in W])
    rep=lambda fn,k=5,num=3: min(timeit.repeat(fn,number=num,repeat=k))/num
    t_w=rep(lambda: [R._weights(7,b) for b in range(50)])
    t_m=rep(lambda: R._batch_moments(0,Wt))
    mm,C=R._batch_moments(0,Wt)
    t_pd=rep(lambda: _positive_definite(C))
    ok,ld=_positive_definite(C)
    batch=BatchMoments([n],[C],[mm+R.xbar[0]],logdet_s=[ld])
    th=np.broadcast_to(R.theta0,(50,R.theta0.size)).copy()
    t_e=rep(lambda: f.value_grad_batch(th,batch),k=7,num=10)
    # count evaluations
    cnt=[0]; orig=f.value_grad_batch
    def counting(t,b): cnt[0]+=t.shape[0]; return orig(t,b)
    f.value_grad_batch=counting
    theta,okk=f.fit_quasi_newton_batch(batch,R.theta0,R.hess_inv0,gtol=REFIT_GTOL)
    f.value_grad_batch=orig
    evals=cnt[0]/50
    t_fit=rep(lambda: f.fit_quasi_newton_batch(batch,R.theta0,R.hess_inv0,gtol=REFIT_GTOL))
    t_sol=rep(lambda: f.solution_batch(theta,batch))
    t_all=rep(lambda: R._refit_many(W))
print(f"{which}: per resample {t_all/50*1e3:.3f} ms; counts {t_w/50*1e6:.0f} us, moments {t_m/50*1e6:.0f} us, PD check {t_pd/50*1e6:.0f} us, "
      f"BFGS refit {t_fit/50*1e3:.3f} ms = {evals:.1f} evaluations x {t_e/50*1e6:.1f} us + bookkeeping {(t_fit/50 - evals*t_e/50)*1e6:.0f} us, solution {t_sol/50*1e6:.0f} us")
