# Reference values for the core ML engine, bootstrap and Monte Carlo intervals.
#
# Written with: R version 4.2.2 Patched (2022-11-10 r83330), lavaan 0.6.14, semTools 0.5.6, psych 2.2.9
# (jsonlite, MASS). Rerun from the repository root:
#
#   Rscript tests/reference/R/make_reference_core.R
#
# Writes tests/reference/data/{PoliticalDemocracy,HolzingerSwineford1939,sim_med9}.csv and the case folders
# pol_dem, hs_cfa, hs_fixed, paths_obs, med9, med9_boot, med9_mc under tests/reference/ (format:
# /work/notes/refformat.md). Every random draw uses a fixed seed. Only med9_boot (5,000 resamples, serial) takes
# minutes; everything else is seconds. Every model is fitted to the data as read back from the CSV written here,
# so Python tests that read the same CSV see exactly the same numbers.

suppressPackageStartupMessages({
  library(lavaan)
  library(semTools)
  library(jsonlite)
})
options(digits = 15)
RNGkind("Mersenne-Twister", "Inversion", "Rejection")   # R's defaults, set explicitly for reproducibility
stopifnot(as.character(packageVersion("lavaan")) == "0.6.14",
          as.character(packageVersion("semTools")) == "0.5.6")

SCRIPT <- "tests/reference/R/make_reference_core.R"
ROOT <- "tests/reference"
DATA_DIR <- file.path(ROOT, "data")
dir.create(DATA_DIR, recursive = TRUE, showWarnings = FALSE)

# ---------------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------------

write_json_file <- function(x, path) {
  jsonlite::write_json(x, path, auto_unbox = TRUE, digits = NA, pretty = TRUE, na = "null")
}

write_data <- function(df, name) {
  path <- file.path(DATA_DIR, paste0(name, ".csv"))
  write.csv(df, path, row.names = FALSE, na = "")
  # read back: the fitted data are exactly what the CSV holds
  read.csv(path, stringsAsFactors = FALSE)
}

# parameterEstimates(fit, standardized = TRUE) without std.nox, as a plain data frame
estimates_table <- function(fit, ...) {
  pe <- as.data.frame(parameterEstimates(fit, standardized = TRUE, rsquare = FALSE, ...))
  pe$std.nox <- NULL
  if (!("label" %in% names(pe))) pe$label <- ""   # lavaan drops an all-empty label column
  keep <- c("lhs", "op", "rhs", "label", if ("group" %in% names(pe)) "group",
            "est", "se", "z", "pvalue", "ci.lower", "ci.upper", "std.lv", "std.all")
  pe[, keep]
}

options_list <- function(se = "standard", bootstrap = NA, extra = list()) {
  c(list(estimator = "ML", missing = "listwise", group = NA, group_equal = NA, ordered = NA,
         se = se, test = "standard", bootstrap = bootstrap), extra)
}

# writes model.lav, meta.json, estimates.csv, fit.json, r2.json for one fitted case
write_case <- function(case, fit, model, call, data, options, notes, files = list(), extra_meta = list()) {
  dir <- file.path(ROOT, case)
  dir.create(dir, recursive = TRUE, showWarnings = FALSE)
  stopifnot(lavInspect(fit, "converged"))
  writeLines(model, file.path(dir, "model.lav"))
  write.csv(estimates_table(fit), file.path(dir, "estimates.csv"), row.names = FALSE, na = "")
  write_json_file(as.list(unclass(fitMeasures(fit))), file.path(dir, "fit.json"))
  write_json_file(as.list(unclass(lavInspect(fit, "r2"))), file.path(dir, "r2.json"))
  files <- c(list(model.lav = "the exact lavaan syntax fitted",
                  estimates.csv = "parameterEstimates(fit, standardized = TRUE), std.nox dropped",
                  fit.json = "as.list(fitMeasures(fit))",
                  r2.json = "lavInspect(fit, \"r2\")"), files)
  meta <- c(list(case = case, script = SCRIPT, lavaan = as.character(packageVersion("lavaan")),
                 semTools = as.character(packageVersion("semTools")), R = R.version.string,
                 call = call, data = data, recode = setNames(list(), character(0)),
                 options = options, n = lavInspect(fit, "nobs"),
                 converged = lavInspect(fit, "converged"),
                 iterations = lavInspect(fit, "iterations"),
                 notes = notes, files = files), extra_meta)
  write_json_file(meta, file.path(dir, "meta.json"))
  cat(sprintf("%-10s chisq = %.4f  df = %d  cfi = %.4f  npar = %d  n = %d\n", case,
              fitMeasures(fit, "chisq"), as.integer(fitMeasures(fit, "df")), fitMeasures(fit, "cfi"),
              as.integer(fitMeasures(fit, "npar")), lavInspect(fit, "nobs")))
  invisible(dir)
}

# ---------------------------------------------------------------------------------------------------------------
# real data sets, written as they are in lavaan
# ---------------------------------------------------------------------------------------------------------------

pol <- write_data(lavaan::PoliticalDemocracy, "PoliticalDemocracy")
hs <- write_data(lavaan::HolzingerSwineford1939, "HolzingerSwineford1939")

# ---------------------------------------------------------------------------------------------------------------
# 1. pol_dem
# ---------------------------------------------------------------------------------------------------------------

model_pol <- "ind60 =~ x1 + x2 + x3
dem60 =~ y1 + a*y2 + b*y3 + c*y4
dem65 =~ y5 + a*y6 + b*y7 + c*y8
dem60 ~ ind60
dem65 ~ ind60 + dem60
y1 ~~ y5
y2 ~~ y4 + y6
y3 ~~ y7
y4 ~~ y8
y6 ~~ y8"
fit <- sem(model_pol, data = pol)
write_case("pol_dem", fit, model_pol, "sem(model, data = PoliticalDemocracy)",
           "../data/PoliticalDemocracy.csv", options_list(),
           "Bollen's political democracy model, lavaan tutorial version with equality labels a, b, c across waves and correlated residuals.")

# ---------------------------------------------------------------------------------------------------------------
# 2. hs_cfa
# ---------------------------------------------------------------------------------------------------------------

model_hs <- "visual =~ x1 + x2 + x3
textual =~ x4 + x5 + x6
speed =~ x7 + x8 + x9"
fit <- cfa(model_hs, data = hs)
write_case("hs_cfa", fit, model_hs, "cfa(model, data = HolzingerSwineford1939)",
           "../data/HolzingerSwineford1939.csv", options_list(),
           "Holzinger-Swineford three-factor CFA, n = 301 (all rows; x1..x9 have no missing values).")

# ---------------------------------------------------------------------------------------------------------------
# 3. hs_fixed: syntax stress case
# ---------------------------------------------------------------------------------------------------------------

model_hs_fixed <- "visual =~ NA*x1 + l2*x2 + l3*x3
textual =~ x4 + 1*x5 + x6
speed =~ x7 + x8 + x9
visual ~~ 1*visual
x1 ~ 1
speed ~~ 0*textual
diff := l2 - l3
ratio := l2/l3"
fit <- cfa(model_hs_fixed, data = hs, meanstructure = TRUE)
write_case("hs_fixed", fit, model_hs_fixed, "cfa(model, data = HolzingerSwineford1939, meanstructure = TRUE)",
           "../data/HolzingerSwineford1939.csv", options_list(extra = list(meanstructure = TRUE)),
           paste("Syntax stress case, fitted as given (lavaan accepts it).",
                 "visual: first loading freed (NA*x1), variance fixed to 1, loadings labelled l2, l3.",
                 "textual: x4 is still fixed to 1 by the marker default AND x5 is fixed to 1 explicitly (two fixed loadings).",
                 "speed ~~ textual fixed to 0; visual ~~ textual and visual ~~ speed stay free.",
                 "x1 ~ 1 is redundant under meanstructure = TRUE (intercepts are free anyway) but must parse.",
                 "Defined parameters diff = l2 - l3 and ratio = l2/l3 (delta-method SEs)."))

# ---------------------------------------------------------------------------------------------------------------
# 4. paths_obs: observed mediator, indicator used as a predictor, observed exogenous predictor (fixed.x)
# ---------------------------------------------------------------------------------------------------------------

model_paths <- "ind60 =~ x1 + x2 + x3
dem60 =~ y1 + y2 + y3 + y4
y5 ~ a*ind60 + dem60
y6 ~ b*y5 + x1 + y8
ab := a*b"
fit <- sem(model_paths, data = pol)
stopifnot(identical(lavNames(fit, "ov.x"), "y8"))
write_case("paths_obs", fit, model_paths, "sem(model, data = PoliticalDemocracy)",
           "../data/PoliticalDemocracy.csv", options_list(extra = list(fixed.x = TRUE)),
           paste("Brief's model plus y8 as a predictor of y6.",
                 "x1 is an indicator of ind60, so it is NOT exogenous and fixed.x does not apply to it",
                 "(lavNames(fit, 'ov.x') is empty without y8). y8 was added so the case has a genuine observed",
                 "exogenous predictor: with fixed.x = TRUE its variance row 'y8 ~~ y8' is fixed at the sample",
                 "variance (divisor N), is not counted in npar, and y8 gets no covariances with ind60/dem60.",
                 "y5 is an observed mediator; x1 is both an indicator and a predictor."))

# ---------------------------------------------------------------------------------------------------------------
# 5. med9: simulated 7-point Likert data, 9-factor mediation model
# ---------------------------------------------------------------------------------------------------------------

# population model (standardized latent variables)
SEED_SIM <- 20240517L
N_SIM <- 500L
lv_exo <- c("PS", "TC", "EM", "IM", "TR")
phi_exo <- matrix(0.25, 5, 5, dimnames = list(lv_exo, lv_exo))
diag(phi_exo) <- 1
phi_exo["PS", "TC"] <- phi_exo["TC", "PS"] <- 0.40
phi_exo["EM", "IM"] <- phi_exo["IM", "EM"] <- 0.45
phi_exo["TR", "PS"] <- phi_exo["PS", "TR"] <- 0.30
pop_paths <- list(
  RI = c(PS = 0.35, TC = 0.25, TR = 0.30),                                  # a1 a2 a5
  KS = c(PS = 0.20, TC = 0.15, EM = 0.25, IM = 0.20, RI = 0.35),            # b1 b2 b3 b4 d
  VCC = c(RI = 0.30, KS = 0.40, PS = 0.15, TC = 0.05),                      # c1 c2 cp1 cp2 (cp2 near zero)
  SAT = c(VCC = 0.45)                                                       # e
)
# latent covariance matrix with every latent variance 1: residual variance = 1 - explained variance
lv_all <- c(lv_exo, names(pop_paths))
phi <- matrix(0, 9, 9, dimnames = list(lv_all, lv_all))
phi[lv_exo, lv_exo] <- phi_exo
psi_endo <- c()
for (v in names(pop_paths)) {
  g <- pop_paths[[v]]
  p <- names(g)
  explained <- as.numeric(t(g) %*% phi[p, p] %*% g)
  psi_endo[v] <- 1 - explained
  stopifnot(psi_endo[v] > 0)
  cov_v <- as.numeric(phi[, p, drop = FALSE] %*% g)
  phi[v, ] <- cov_v
  phi[, v] <- cov_v
  phi[v, v] <- 1
}
items <- list(
  PS = paste0("ps", 1:4), TC = paste0("tc", 1:3), EM = paste0("em", 1:3), IM = paste0("im", 1:3),
  TR = paste0("tr", 1:3), RI = paste0("ri", 1:4), KS = paste0("ks", 1:4), VCC = paste0("vcc", 1:4),
  SAT = paste0("sat", 1:3)
)
item_names <- unlist(items, use.names = FALSE)
item_factor <- rep(names(items), lengths(items))
loadings <- setNames(c(
  0.78, 0.72, 0.81, 0.66,   # ps
  0.75, 0.83, 0.69,         # tc
  0.80, 0.74, 0.68,         # em
  0.85, 0.77, 0.71,         # im
  0.73, 0.79, 0.65,         # tr
  0.76, 0.82, 0.70, 0.67,   # ri
  0.80, 0.75, 0.84, 0.69,   # ks
  0.79, 0.72, 0.85, 0.74,   # vcc
  0.83, 0.78, 0.70          # sat
), item_names)
# thresholds on the standard-normal item scale: cumulative probabilities of categories 1..6
cum_typical <- c(0.04, 0.10, 0.22, 0.42, 0.68, 0.88)     # mild agreement skew
cum_skew_high <- c(0.01, 0.03, 0.07, 0.15, 0.35, 0.65)   # strong ceiling (negative skew)
cum_skew_low <- c(0.15, 0.40, 0.62, 0.80, 0.92, 0.97)    # floor (positive skew)
item_cum <- setNames(rep(list(cum_typical), length(item_names)), item_names)
for (it in c("ps1", "sat1", "sat2", "ks4")) item_cum[[it]] <- cum_skew_high
for (it in c("tr3", "em3")) item_cum[[it]] <- cum_skew_low

set.seed(SEED_SIM)
eta <- matrix(0, N_SIM, 9, dimnames = list(NULL, lv_all))
eta[, lv_exo] <- MASS::mvrnorm(N_SIM, mu = rep(0, 5), Sigma = phi_exo)
for (v in names(pop_paths)) {
  g <- pop_paths[[v]]
  eta[, v] <- eta[, names(g), drop = FALSE] %*% g + rnorm(N_SIM, sd = sqrt(psi_endo[v]))
}
ystar <- sapply(item_names, function(it) {
  lam <- loadings[[it]]
  lam * eta[, item_factor[item_names == it]] + rnorm(N_SIM, sd = sqrt(1 - lam^2))
})
likert <- sapply(item_names, function(it) {
  as.integer(cut(ystar[, it], breaks = c(-Inf, qnorm(item_cum[[it]]), Inf), labels = FALSE))
})
role <- sample(c("solver", "seeker"), N_SIM, replace = TRUE, prob = c(0.6, 0.4))
sim_med9 <- data.frame(id = seq_len(N_SIM), role = role, likert, stringsAsFactors = FALSE)
med9 <- write_data(sim_med9, "sim_med9")
# population values, kept for the data README
write_json_file(list(simulated = TRUE, seed = SEED_SIM, n = N_SIM,
                     exogenous_correlations = lapply(split(phi_exo, rownames(phi_exo))[lv_exo],
                                                     function(r) as.list(setNames(r, lv_exo))),
                     paths = lapply(pop_paths, as.list),
                     residual_variances = as.list(psi_endo), loadings = as.list(loadings),
                     thresholds_cumprob = item_cum,
                     role_prob = list(solver = 0.6, seeker = 0.4)),
                file.path(DATA_DIR, "sim_med9_population.json"))

model_med9 <- "PS =~ ps1 + ps2 + ps3 + ps4
TC =~ tc1 + tc2 + tc3
EM =~ em1 + em2 + em3
IM =~ im1 + im2 + im3
TR =~ tr1 + tr2 + tr3
RI =~ ri1 + ri2 + ri3 + ri4
KS =~ ks1 + ks2 + ks3 + ks4
VCC =~ vcc1 + vcc2 + vcc3 + vcc4
SAT =~ sat1 + sat2 + sat3
RI ~ a1*PS + a2*TC + a5*TR
KS ~ b1*PS + b2*TC + b3*EM + b4*IM + d*RI
VCC ~ c1*RI + c2*KS + cp1*PS + cp2*TC
SAT ~ e*VCC
ind_PS_RI_VCC := a1*c1
ind_PS_KS_VCC := b1*c2
ind_PS_RI_KS_VCC := a1*d*c2
ind_TC_RI_VCC := a2*c1
ind_TC_KS_VCC := b2*c2
ind_TC_RI_KS_VCC := a2*d*c2
ind_EM_KS_VCC := b3*c2
ind_IM_KS_VCC := b4*c2
ind_TR_RI_VCC := a5*c1
ind_TR_RI_KS_VCC := a5*d*c2
total_ind_PS := a1*c1 + b1*c2 + a1*d*c2
total_PS := cp1 + a1*c1 + b1*c2 + a1*d*c2
diff_RI_KS_PS := a1*c1 - b1*c2
ind_PS_VCC_SAT := (a1*c1 + b1*c2 + a1*d*c2)*e"

fit_med9 <- sem(model_med9, data = med9)
med9_notes <- paste("Simulated data (see ../data/README.md): 7-point Likert items cut from normal latent",
                    "responses, treated as continuous (ML, listwise; no missing values).")
write_case("med9", fit_med9, model_med9, "sem(model, data = sim_med9)", "../data/sim_med9.csv",
           options_list(), med9_notes,
           files = list(implied_cov.csv = "lavInspect(fit, \"implied\")$cov, first column 'name' = row names",
                        vcov.csv = "vcov(fit), first column 'name' = row names (free-parameter labels as lavaan names them)"))
write_matrix <- function(m, path) {
  m <- unclass(m)
  df <- data.frame(name = rownames(m), as.data.frame(m, check.names = FALSE), check.names = FALSE)
  write.csv(df, path, row.names = FALSE, na = "")
}
write_matrix(lavInspect(fit_med9, "implied")$cov, file.path(ROOT, "med9", "implied_cov.csv"))
write_matrix(vcov(fit_med9), file.path(ROOT, "med9", "vcov.csv"))

# ---------------------------------------------------------------------------------------------------------------
# 7. med9_mc: Monte Carlo CIs of the := parameters (semTools 0.5.6 has monteCarloCI, not monteCarloParams)
# ---------------------------------------------------------------------------------------------------------------

SEED_MC <- 20240519L
N_MC <- 20000L
stopifnot(!("monteCarloParams" %in% ls("package:semTools")))
set.seed(SEED_MC)
mc <- monteCarloCI(fit_med9, nRep = N_MC, level = 0.95, append.samples = TRUE)
mc_tab <- data.frame(name = rownames(mc$Results), est = mc$Results$est,
                     ci.lower = mc$Results$ci.lower, ci.upper = mc$Results$ci.upper,
                     se = sapply(rownames(mc$Results), function(nm) sd(mc$Samples[[nm]])),
                     stringsAsFactors = FALSE)
write_case("med9_mc", fit_med9, model_med9, "sem(model, data = sim_med9)", "../data/sim_med9.csv",
           options_list(extra = list(ci = "mc", mc_draws = N_MC, mc_seed = SEED_MC, level = 0.95)),
           paste(med9_notes, "Same fit as med9. mc_ci.csv: semTools 0.5.6 monteCarloCI(fit, nRep = 20000,",
                 "level = 0.95, append.samples = TRUE) after set.seed(", SEED_MC, "); draws from",
                 "MASS::mvrnorm(coef, vcov) of the labelled parameters; percentile limits via quantile() type 7."),
           files = list(mc_ci.csv = paste("name, est, ci.lower, ci.upper from monteCarloCI; se = sd of the",
                                          "20,000 simulated values of each defined parameter")),
           extra_meta = list(mc_call = sprintf("set.seed(%d); monteCarloCI(fit, nRep = %d, level = 0.95, append.samples = TRUE)",
                                               SEED_MC, N_MC)))
write.csv(mc_tab, file.path(ROOT, "med9_mc", "mc_ci.csv"), row.names = FALSE, na = "")

# ---------------------------------------------------------------------------------------------------------------
# 6. med9_boot: nonparametric bootstrap, 5,000 resamples (serial; takes minutes)
# ---------------------------------------------------------------------------------------------------------------

SEED_BOOT <- 20240518L
N_BOOT <- 5000L
set.seed(SEED_BOOT)
boot_time <- system.time(
  fit_boot <- sem(model_med9, data = med9, se = "bootstrap", bootstrap = N_BOOT, iseed = SEED_BOOT,
                  parallel = "no")
)
boot_draws <- lavInspect(fit_boot, "boot")
error_idx <- attr(boot_draws, "error.idx")
nonadm <- attr(boot_draws, "nonadmissible")
boot_failed <- list(n_boot = N_BOOT, n_failed = length(error_idx), error_idx = as.integer(error_idx),
                    n_ok = nrow(boot_draws) - length(error_idx),
                    n_rows_returned = nrow(boot_draws),
                    n_nonadmissible = length(nonadm), seed = attr(boot_draws, "seed"))
write_case("med9_boot", fit_boot, model_med9,
           sprintf("sem(model, data = sim_med9, se = \"bootstrap\", bootstrap = %d, iseed = %d, parallel = \"no\")",
                   N_BOOT, SEED_BOOT),
           "../data/sim_med9.csv",
           options_list(se = "bootstrap", bootstrap = N_BOOT,
                        extra = list(boot_seed = SEED_BOOT, parallel = "no")),
           paste(med9_notes, "Same point estimates as med9; se and ci.lower/ci.upper from 5,000 nonparametric",
                 "bootstrap resamples (lavaan's ordinary bootstrap, serial, iseed fixed).",
                 "estimates.csv uses lavaan's default boot.ci.type = 'perc' and equals estimates_perc.csv."),
           files = list(estimates_perc.csv = "parameterEstimates(fit, boot.ci.type = \"perc\", standardized = TRUE), std.nox dropped",
                        estimates_bca.csv = "parameterEstimates(fit, boot.ci.type = \"bca.simple\"), all columns lavaan gives",
                        boot_failed.json = "resamples that failed (attr(lavInspect(fit, \"boot\"), \"error.idx\")) and nonadmissible ones"),
           extra_meta = list(boot_wall_time_seconds = unname(boot_time[["elapsed"]]),
                             boot_user_time_seconds = unname(boot_time[["user.self"]]),
                             boot_machine = sprintf("%s, %s cores (serial run)", R.version$platform,
                                                    parallel::detectCores())))
write.csv(estimates_table(fit_boot, boot.ci.type = "perc"),
          file.path(ROOT, "med9_boot", "estimates_perc.csv"), row.names = FALSE, na = "")
write.csv(as.data.frame(parameterEstimates(fit_boot, boot.ci.type = "bca.simple")),
          file.path(ROOT, "med9_boot", "estimates_bca.csv"), row.names = FALSE, na = "")
write_json_file(boot_failed, file.path(ROOT, "med9_boot", "boot_failed.json"))
cat(sprintf("bootstrap: %d resamples, %d failed, %.1f s elapsed\n", N_BOOT, length(error_idx),
            boot_time[["elapsed"]]))
