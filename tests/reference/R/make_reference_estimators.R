# Reference values for robust ML (MLR), FIML, WLSMV and multi-group invariance.
#
# Written with: R version 4.2.2 Patched (2022-11-10 r83330), lavaan 0.6.14, semTools 0.5.6, psych 2.2.9,
# jsonlite.
# Rerun from the repo root:
#   Rscript tests/reference/R/make_reference_estimators.R            # every part
#   Rscript tests/reference/R/make_reference_estimators.R bfi roles  # only some parts (bfi, roles, hs, med9)
#
# Parts and the case folders they write (each under tests/reference/<case>/):
#   bfi   : bfi5_ml, bfi5_mlr, bfi5_fiml, bfi5_fiml_mlr, bfi5_configural, bfi5_metric, bfi5_scalar,
#           bfi5_strict, bfi5_invariance/   (data: psych::bfi, written once to data/bfi.csv)
#   roles : roles_configural, roles_metric, roles_scalar, roles_partial, roles_invariance/
#           (data: data/sim_roles.csv, simulated here with a fixed seed)
#   hs    : hs_wlsmv (data: data/hs_ordinal.csv, lavaan's HolzingerSwineford1939 cut at terciles)
#   med9  : med9_mlr, med9_wlsmv, med9_fiml, med9_fiml_mlr, med9_listwise_missing
#           (data: data/sim_med9.csv, written by another script; data/sim_med9_missing.csv written here)
#
# Every random draw uses a fixed seed with the RNG kinds set explicitly.

suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})
options(digits = 15)
RNGkind("Mersenne-Twister", "Inversion", "Rejection")

stopifnot(as.character(packageVersion("lavaan")) == "0.6.14")

SCRIPT <- "tests/reference/R/make_reference_estimators.R"
REF <- "tests/reference"
DATA <- file.path(REF, "data")
if (!dir.exists(REF)) stop("run this script from the repository root")
dir.create(DATA, showWarnings = FALSE, recursive = TRUE)

args <- commandArgs(trailingOnly = TRUE)
parts <- if (length(args)) args else c("bfi", "roles", "hs", "med9")

# ---------------------------------------------------------------------------------------------------------
# writing helpers
# ---------------------------------------------------------------------------------------------------------

write_json_file <- function(x, path) {
  jsonlite::write_json(x, path, auto_unbox = TRUE, digits = NA, pretty = TRUE)
}

write_csv_file <- function(df, path) {
  write.csv(df, path, row.names = FALSE, na = "")
}

case_dir <- function(case) {
  d <- file.path(REF, case)
  dir.create(d, showWarnings = FALSE, recursive = TRUE)
  d
}

# parameterEstimates in the reference column order (block and std.nox dropped)
estimates_table <- function(fit) {
  pe <- as.data.frame(parameterEstimates(fit, standardized = TRUE, rsquare = FALSE))
  if (!"label" %in% names(pe)) pe$label <- ""   # lavaan omits the column when no parameter is labelled
  cols <- c("lhs", "op", "rhs", "label", if ("group" %in% names(pe)) "group",
            "est", "se", "z", "pvalue", "ci.lower", "ci.upper", "std.lv", "std.all")
  pe[, cols]
}

r2_list <- function(fit) {
  r2 <- lavInspect(fit, "r2")
  if (is.list(r2)) lapply(r2, function(v) as.list(unclass(v))) else as.list(unclass(r2))
}

EMPTY_OBJ <- setNames(list(), character(0))   # written as {} in JSON

deparse_arg <- function(x) paste(deparse(x, width.cutoff = 500L), collapse = " ")

call_text <- function(fun_name, data_name, args) {
  a <- if (length(args)) paste0(", ", paste(names(args), vapply(args, deparse_arg, ""), sep = " = ",
                                            collapse = ", ")) else ""
  sprintf("%s(model, data = %s%s)", fun_name, data_name, a)
}

options_list <- function(fit, args) {
  o <- lavInspect(fit, "options")
  ng <- lavInspect(fit, "ngroups")
  list(
    estimator = if (is.null(args$estimator)) "ML" else args$estimator,   # as requested in the call
    estimator_internal = o$estimator,                                     # as lavaan stores it (WLSMV -> DWLS)
    missing = o$missing,
    group = if (ng > 1) lavInspect(fit, "group") else NA,
    group_labels = if (ng > 1) lavInspect(fit, "group.label") else character(0),
    group_equal = o$group.equal,
    group_partial = o$group.partial,
    ordered = lavNames(fit, "ov.ord"),
    parameterization = o$parameterization,
    se = o$se,
    test = o$test,
    information = o$information,
    bootstrap = 0
  )
}

# Fit a model, write model.lav, meta.json, estimates.csv, fit.json, r2.json; return the fit.
# fun_name: "cfa" or "sem"; data_name: name used for the data in the recorded call;
# data_rel: path of the data file relative to the case folder.
run_case <- function(case, model, data, data_rel, fun_name, args = list(), recode = EMPTY_OBJ,
                     data_name = "dat", notes = "", files = list(), data_prep = "") {
  fit <- do.call(fun_name, c(list(model = model, data = quote(data)), args))
  if (!lavInspect(fit, "converged")) stop(case, ": did not converge")
  d <- case_dir(case)
  writeLines(model, file.path(d, "model.lav"))
  write_csv_file(estimates_table(fit), file.path(d, "estimates.csv"))
  fm <- fitMeasures(fit)   # computed once: slow under FIML (baseline and h1 models)
  write_json_file(as.list(fm), file.path(d, "fit.json"))
  write_json_file(r2_list(fit), file.path(d, "r2.json"))
  meta <- list(
    case = case,
    script = SCRIPT,
    lavaan = as.character(packageVersion("lavaan")),
    call = call_text(fun_name, data_name, args),
    data = data_rel,
    data_prep = data_prep,
    recode = recode,
    options = options_list(fit, args),
    nobs = as.list(lavInspect(fit, "nobs")),
    converged = lavInspect(fit, "converged"),
    iterations = lavInspect(fit, "iterations"),
    notes = notes,
    files = c(list(model.lav = "the exact lavaan syntax fitted",
                   estimates.csv = "parameterEstimates(fit, standardized = TRUE, rsquare = FALSE) without block and std.nox",
                   fit.json = "as.list(fitMeasures(fit))",
                   r2.json = "lavInspect(fit, \"r2\")"), files)
  )
  write_json_file(meta, file.path(d, "meta.json"))
  robust <- if ("chisq.scaled" %in% names(fm))
    sprintf("  chisq.scaled = %.4f  scaling = %.4f", fm[["chisq.scaled"]], fm[["chisq.scaling.factor"]]) else ""
  cat(sprintf("%-24s n = %s  chisq = %.4f  df = %d%s\n", case, paste(lavInspect(fit, "nobs"), collapse = "/"),
              fm[["chisq"]], as.integer(fm[["df"]]), robust))
  fit
}

# lavTestLRT result as a data frame with the model names in a first column
lrt_table <- function(lrt, model_names) {
  df <- as.data.frame(lrt)
  data.frame(model = model_names[match(rownames(df), names(model_names))], df,
             check.names = FALSE, row.names = NULL)
}

score_tables <- function(fit, dir, stem) {
  sc <- lavTestScore(fit, epc = FALSE)
  uni <- as.data.frame(sc$uni)
  write_csv_file(uni, file.path(dir, paste0("score_", stem, ".csv")))
  write_csv_file(as.data.frame(sc$test), file.path(dir, paste0("score_", stem, "_total.csv")))
  write_csv_file(as.data.frame(parTable(fit)), file.path(dir, paste0("partable_", stem, ".csv")))
}

# ---------------------------------------------------------------------------------------------------------
# bfi: psych::bfi five-factor CFA, robust and FIML variants, invariance by gender
# ---------------------------------------------------------------------------------------------------------

BFI5 <- paste(
  "A =~ A1 + A2 + A3 + A4 + A5",
  "C =~ C1 + C2 + C3 + C4 + C5",
  "E =~ E1 + E2 + E3 + E4 + E5",
  "N =~ N1 + N2 + N3 + N4 + N5",
  "O =~ O1 + O2 + O3 + O4 + O5",
  sep = "\n")
BFI_REVERSE <- c("A1", "C4", "C5", "E1", "E2", "O2", "O5")
BFI_RECODE <- setNames(as.list(rep("7-x", length(BFI_REVERSE))), BFI_REVERSE)
BFI_PREP <- "dat <- read.csv(\"tests/reference/data/bfi.csv\"); for (v in c(\"A1\",\"C4\",\"C5\",\"E1\",\"E2\",\"O2\",\"O5\")) dat[[v]] <- 7 - dat[[v]]"

load_bfi <- function() {
  path <- file.path(DATA, "bfi.csv")
  if (!file.exists(path)) {
    # psych::bfi as it is in psych 2.2.9: 25 items, gender, education, age (row names dropped)
    e <- new.env()
    utils::data("bfi", package = "psych", envir = e)
    bfi <- e$bfi
    stopifnot(ncol(bfi) == 28, nrow(bfi) == 2800)
    write_csv_file(bfi, path)
    cat("wrote", path, "\n")
  }
  dat <- read.csv(path)
  for (v in BFI_REVERSE) dat[[v]] <- 7 - dat[[v]]
  dat
}

part_bfi <- function() {
  dat <- load_bfi()
  rel <- "../data/bfi.csv"
  common <- list(recode = BFI_RECODE, data_prep = BFI_PREP)
  cfa_bfi <- function(case, args, notes = "", files = list()) {
    do.call(run_case, c(list(case = case, model = BFI5, data = dat, data_rel = rel, fun_name = "cfa",
                             args = args, notes = notes, files = files), common))
  }
  cfa_bfi("bfi5_ml", list(), "ML, listwise deletion (lavaan default) over the 25 items")
  cfa_bfi("bfi5_mlr", list(estimator = "MLR"), "MLR (Huber-White SEs, Yuan-Bentler scaled test), listwise")
  cfa_bfi("bfi5_fiml", list(estimator = "ML", missing = "fiml"), "ML with full-information ML for missing items")
  cfa_bfi("bfi5_fiml_mlr", list(estimator = "MLR", missing = "fiml"), "MLR with FIML")

  # invariance by gender (1 = male, 2 = female in psych::bfi); lavaan groups follow first appearance
  inv_note <- "Groups are gender as coded in psych::bfi (1 = male, 2 = female); group 1 is the first level met in the data (see options.group_labels)."
  fits <- list(
    configural = cfa_bfi("bfi5_configural", list(group = "gender"), inv_note),
    metric = cfa_bfi("bfi5_metric", list(group = "gender", group.equal = "loadings"), inv_note),
    scalar = cfa_bfi("bfi5_scalar", list(group = "gender", group.equal = c("loadings", "intercepts")), inv_note),
    strict = cfa_bfi("bfi5_strict", list(group = "gender", group.equal = c("loadings", "intercepts", "residuals")),
                     inv_note)
  )
  d <- case_dir("bfi5_invariance")
  lrt <- lavTestLRT(fits$configural, fits$metric, fits$scalar, fits$strict)
  write_csv_file(lrt_table(lrt, c(`fits$configural` = "configural", `fits$metric` = "metric",
                                  `fits$scalar` = "scalar", `fits$strict` = "strict")),
                 file.path(d, "lavTestLRT.csv"))

  # the same four models with MLR; lavTestLRT default for MLR is method = "satorra.bentler.2001"
  mlr <- lapply(list(configural = "", metric = "loadings", scalar = c("loadings", "intercepts"),
                     strict = c("loadings", "intercepts", "residuals")),
                function(eq) cfa(BFI5, data = dat, group = "gender", group.equal = eq, estimator = "MLR"))
  stopifnot(all(vapply(mlr, lavInspect, TRUE, what = "converged")))
  lrt_mlr <- lavTestLRT(mlr$configural, mlr$metric, mlr$scalar, mlr$strict)
  write_csv_file(lrt_table(lrt_mlr, c(`mlr$configural` = "configural", `mlr$metric` = "metric",
                                      `mlr$scalar` = "scalar", `mlr$strict` = "strict")),
                 file.path(d, "lavTestLRT_mlr.csv"))
  fm_cols <- c("npar", "chisq", "df", "pvalue", "chisq.scaled", "chisq.scaling.factor", "pvalue.scaled",
               "cfi.robust", "tli.robust", "rmsea.robust", "srmr", "aic", "bic", "logl")
  fit_mlr <- do.call(rbind, lapply(names(mlr), function(m)
    data.frame(model = m, t(unclass(fitMeasures(mlr[[m]], fm_cols))), check.names = FALSE)))
  write_csv_file(fit_mlr, file.path(d, "fit_mlr.csv"))

  score_tables(fits$scalar, d, "scalar")
  writeLines(BFI5, file.path(d, "model.lav"))
  write_json_file(list(
    case = "bfi5_invariance", script = SCRIPT, lavaan = as.character(packageVersion("lavaan")),
    call = paste("lavTestLRT(configural, metric, scalar, strict); the four fits are the cases bfi5_configural,",
                 "bfi5_metric, bfi5_scalar, bfi5_strict (cfa(model, data = dat, group = \"gender\", group.equal = ...));",
                 "lavTestScore(scalar, epc = FALSE)"),
    data = rel, data_prep = BFI_PREP, recode = BFI_RECODE,
    options = list(estimator = "ML", missing = "listwise", group = "gender",
                   group_labels = lavInspect(fits$configural, "group.label")),
    notes = paste("Nested models in lavTestLRT order (sorted by df). lavTestLRT in lavaan 0.6.14 also returns an",
                  "RMSEA column (RMSEA of the difference test), kept as is. The MLR table uses lavaan's default",
                  "scaled difference for MLR (method = \"satorra.bentler.2001\"); its Chisq column is the",
                  "unscaled chi-square of each model, Chisq diff the scaled difference."),
    files = list(
      model.lav = "the lavaan syntax of all four models (equality constraints come from group.equal)",
      lavTestLRT.csv = "lavTestLRT(configural, metric, scalar, strict), ML; first column model",
      lavTestLRT_mlr.csv = "lavTestLRT of the same four models fitted with estimator = \"MLR\" (satorra.bentler.2001)",
      fit_mlr.csv = "selected fitMeasures of the four MLR fits",
      score_scalar.csv = "lavTestScore(scalar_fit)$uni: univariate score tests of releasing each equality constraint",
      score_scalar_total.csv = "lavTestScore(scalar_fit)$test: total score test",
      partable_scalar.csv = "parTable(scalar_fit): plabel (.pNN.) decodes the lhs/rhs of score_scalar.csv"
    )), file.path(d, "meta.json"))
  print(lrt)
  print(lrt_mlr)
}

# ---------------------------------------------------------------------------------------------------------
# roles: simulated two-group data where scalar invariance fails by construction
# ---------------------------------------------------------------------------------------------------------

ROLES_MODEL <- paste(
  "RI =~ ri1 + ri2 + ri3 + ri4",
  "KS =~ ks1 + ks2 + ks3 + ks4",
  "VCC =~ vcc1 + vcc2 + vcc3 + vcc4",
  "VCC ~ RI + KS",
  sep = "\n")
ROLES_WALD_MODEL <- paste(
  "RI =~ ri1 + ri2 + ri3 + ri4",
  "KS =~ ks1 + ks2 + ks3 + ks4",
  "VCC =~ vcc1 + vcc2 + vcc3 + vcc4",
  "VCC ~ c(b1, b2)*RI + KS",
  sep = "\n")

# Population (both groups unless stated): loadings 0.80, 0.75, 0.70, 0.65 on every factor (unstandardized,
# latent variances of RI and KS = 1), residual variances 1 - loading^2, so every item has SD 1 in solvers
# (VCC has total variance 1 in solvers too); item intercepts 4.0, 4.2, 3.8, 4.1 (same pattern per factor);
# cor(RI, KS) = 0.4; VCC = beta_RI * RI + 0.3 * KS + zeta, var(zeta) = 1 - explained variance in solvers
# (same zeta variance in seekers); beta_RI = 0.5 (solvers), 0.2 (seekers); latent means 0 in solvers,
# RI mean 0.3 in seekers (KS and VCC intercept 0); seekers' intercepts of ks3 and vcc2 are +0.5 (0.5 item SD).
simulate_roles <- function(seed = 20240611L, n = 400L) {
  set.seed(seed)
  lam <- c(0.80, 0.75, 0.70, 0.65)
  nu <- c(4.0, 4.2, 3.8, 4.1)
  theta <- 1 - lam^2
  b_ks <- 0.3
  r <- 0.4
  zeta_var <- 1 - (0.5^2 + b_ks^2 + 2 * 0.5 * b_ks * r)   # VCC variance 1 in solvers
  one_group <- function(role, b_ri, ri_mean, shift_ks3, shift_vcc2) {
    z1 <- rnorm(n); z2 <- rnorm(n)
    RI <- ri_mean + z1
    KS <- r * z1 + sqrt(1 - r^2) * z2
    VCC <- b_ri * RI + b_ks * KS + rnorm(n, sd = sqrt(zeta_var))
    item <- function(eta, k, shift = 0) nu[k] + shift + lam[k] * eta + rnorm(n, sd = sqrt(theta[k]))
    out <- data.frame(role = rep(role, n))
    for (k in 1:4) out[[paste0("ri", k)]] <- item(RI, k)
    for (k in 1:4) out[[paste0("ks", k)]] <- item(KS, k, if (k == 3) shift_ks3 else 0)
    for (k in 1:4) out[[paste0("vcc", k)]] <- item(VCC, k, if (k == 2) shift_vcc2 else 0)
    out
  }
  solv <- one_group("solver", 0.5, 0, 0, 0)
  seek <- one_group("seeker", 0.2, 0.3, 0.5, 0.5)
  dat <- rbind(solv, seek)
  items <- setdiff(names(dat), "role")
  dat[items] <- lapply(dat[items], round, digits = 3)
  data.frame(id = seq_len(nrow(dat)), dat)
}

part_roles <- function() {
  path <- file.path(DATA, "sim_roles.csv")
  write_csv_file(simulate_roles(), path)
  dat <- read.csv(path)
  rel <- "../data/sim_roles.csv"
  note <- paste("SIMULATED data (sim_roles.csv, seed 20240611): equal loadings across roles, intercepts of ks3",
                "and vcc2 shifted +0.5 SD in seekers, RI -> VCC 0.5 (solver) vs 0.2 (seeker); group 1 = solver.")
  sem_roles <- function(case, args, extra = "")
    run_case(case, ROLES_MODEL, dat, rel, "sem", args, notes = paste(note, extra))
  fits <- list(
    configural = sem_roles("roles_configural", list(group = "role")),
    metric = sem_roles("roles_metric", list(group = "role", group.equal = "loadings")),
    scalar = sem_roles("roles_scalar", list(group = "role", group.equal = c("loadings", "intercepts")),
                       "Scalar invariance is false in the population (ks3, vcc2)."),
    partial = sem_roles("roles_partial", list(group = "role", group.equal = c("loadings", "intercepts"),
                                              group.partial = c("ks3~1", "vcc2~1")),
                        "Partial scalar: intercepts of ks3 and vcc2 free across groups.")
  )
  d <- case_dir("roles_invariance")
  lrt <- lavTestLRT(fits$configural, fits$metric, fits$partial, fits$scalar)
  write_csv_file(lrt_table(lrt, c(`fits$configural` = "configural", `fits$metric` = "metric",
                                  `fits$partial` = "partial", `fits$scalar` = "scalar")),
                 file.path(d, "lavTestLRT.csv"))
  score_tables(fits$scalar, d, "scalar")

  wfit <- sem(ROLES_WALD_MODEL, data = dat, group = "role", group.equal = "loadings")
  stopifnot(lavInspect(wfit, "converged"))
  w <- lavTestWald(wfit, constraints = "b1 == b2")
  write_json_file(list(stat = w$stat, df = w$df, p.value = w$p.value, se = w$se,
                       b1 = coef(wfit)[["b1"]], b2 = coef(wfit)[["b2"]]),
                  file.path(d, "wald_path.json"))
  writeLines(ROLES_WALD_MODEL, file.path(d, "model_wald.lav"))
  writeLines(ROLES_MODEL, file.path(d, "model.lav"))
  write_json_file(list(
    case = "roles_invariance", script = SCRIPT, lavaan = as.character(packageVersion("lavaan")),
    call = paste("lavTestLRT(configural, metric, partial, scalar); lavTestScore(scalar, epc = FALSE);",
                 "wfit <- sem(model_wald, data = dat, group = \"role\", group.equal = \"loadings\");",
                 "lavTestWald(wfit, constraints = \"b1 == b2\")"),
    data = rel, data_prep = "", recode = EMPTY_OBJ,
    options = list(estimator = "ML", missing = "listwise", group = "role",
                   group_labels = lavInspect(fits$configural, "group.label")),
    notes = paste(note, "lavTestLRT orders the models by df: configural, metric, partial, scalar (a nested chain)."),
    files = list(
      model.lav = "the lavaan syntax of the four invariance models",
      model_wald.lav = "metric model with group-specific labels on RI -> VCC (b1 solver, b2 seeker)",
      lavTestLRT.csv = "lavTestLRT(configural, metric, partial, scalar); first column model",
      score_scalar.csv = "lavTestScore(scalar_fit)$uni",
      score_scalar_total.csv = "lavTestScore(scalar_fit)$test",
      partable_scalar.csv = "parTable(scalar_fit), to decode the .pNN. names",
      wald_path.json = "lavTestWald(wfit, \"b1 == b2\"): stat, df, p.value, se; plus the estimates b1, b2"
    )), file.path(d, "meta.json"))
  print(lrt)
  print(w[c("stat", "df", "p.value")])
}

# ---------------------------------------------------------------------------------------------------------
# hs: Holzinger-Swineford items cut into 3 ordered categories, WLSMV
# ---------------------------------------------------------------------------------------------------------

HS3 <- paste(
  "visual =~ x1 + x2 + x3",
  "textual =~ x4 + x5 + x6",
  "speed =~ x7 + x8 + x9",
  sep = "\n")

part_hs <- function() {
  hs <- lavaan::HolzingerSwineford1939
  out <- hs[c("id", "sex", "ageyr", "agemo", "school", "grade")]
  for (v in paste0("x", 1:9)) {
    q <- quantile(hs[[v]], probs = c(1, 2) / 3, type = 7, names = FALSE)
    out[[v]] <- findInterval(hs[[v]], q, left.open = TRUE) + 1L   # 1: x <= q1, 2: q1 < x <= q2, 3: x > q2
  }
  path <- file.path(DATA, "hs_ordinal.csv")
  write_csv_file(out, path)
  dat <- read.csv(path)
  items <- paste0("x", 1:9)
  tabs <- sapply(items, function(v) tabulate(dat[[v]], 3))
  fit <- run_case("hs_wlsmv", HS3, dat, "../data/hs_ordinal.csv", "cfa",
                  list(ordered = items, estimator = "WLSMV"),
                  notes = paste("Derived from REAL data (lavaan::HolzingerSwineford1939, n = 301): each of x1..x9 cut",
                                "at its terciles (quantile type 7): 1 if x <= q(1/3), 2 if <= q(2/3), else 3.",
                                "Category counts per item (1/2/3):",
                                paste(sprintf("%s %s", items, apply(tabs, 2, paste, collapse = "/")), collapse = "; ")),
                  files = list(polychoric.csv = "lavInspect(fit, \"sampstat\")$cov (polychoric correlations)",
                               thresholds.csv = "lavInspect(fit, \"sampstat\")$th (sample thresholds)"),
                  data_prep = "derived once by this script; see data/README_estimators.md")
  write_ordinal_extras(fit, "hs_wlsmv")
}

write_ordinal_extras <- function(fit, case) {
  d <- case_dir(case)
  ss <- lavInspect(fit, "sampstat")
  pc <- unclass(ss$cov)
  write_csv_file(data.frame(variable = rownames(pc), pc, check.names = FALSE), file.path(d, "polychoric.csv"))
  th <- unclass(ss$th)
  nm <- names(th)
  write_csv_file(data.frame(lhs = sub("\\|.*$", "", nm), op = "|", rhs = sub("^.*\\|", "", nm),
                            est = as.numeric(th)), file.path(d, "thresholds.csv"))
}

# ---------------------------------------------------------------------------------------------------------
# med9: co-creation mediation model on the simulated sim_med9.csv
# ---------------------------------------------------------------------------------------------------------

MED9 <- paste(
  "PS =~ ps1 + ps2 + ps3 + ps4",
  "TC =~ tc1 + tc2 + tc3",
  "EM =~ em1 + em2 + em3",
  "IM =~ im1 + im2 + im3",
  "TR =~ tr1 + tr2 + tr3",
  "RI =~ ri1 + ri2 + ri3 + ri4",
  "KS =~ ks1 + ks2 + ks3 + ks4",
  "VCC =~ vcc1 + vcc2 + vcc3 + vcc4",
  "SAT =~ sat1 + sat2 + sat3",
  "RI ~ a1*PS + a2*TC + a5*TR",
  "KS ~ b1*PS + b2*TC + b3*EM + b4*IM + d*RI",
  "VCC ~ c1*RI + c2*KS + cp1*PS + cp2*TC",
  "SAT ~ e*VCC",
  "ind_PS_RI_VCC := a1*c1",
  "ind_PS_KS_VCC := b1*c2",
  "ind_PS_RI_KS_VCC := a1*d*c2",
  sep = "\n")
MED9_ITEMS <- c(paste0("ps", 1:4), paste0("tc", 1:3), paste0("em", 1:3), paste0("im", 1:3), paste0("tr", 1:3),
                paste0("ri", 1:4), paste0("ks", 1:4), paste0("vcc", 1:4), paste0("sat", 1:3))

part_med9 <- function() {
  path <- file.path(DATA, "sim_med9.csv")
  if (!file.exists(path)) stop(path, " is missing (written by another reference script); run that first")
  dat <- read.csv(path)
  stopifnot(all(MED9_ITEMS %in% names(dat)))
  rel <- "../data/sim_med9.csv"
  sim_note <- "SIMULATED data (sim_med9.csv, 7-point items, n = 500)."
  run_case("med9_mlr", MED9, dat, rel, "sem", list(estimator = "MLR"), notes = paste(sim_note, "MLR, complete data."))

  # ordinal: all 31 items ordered, WLSMV (delta parameterization)
  tabs <- sapply(MED9_ITEMS, function(v) sum(table(factor(dat[[v]], levels = 1:7)) == 0))
  empty_items <- tabs[tabs > 0]
  zero_cells <- 0L
  for (i in seq_along(MED9_ITEMS)) for (j in seq_len(i - 1)) {
    tt <- table(dat[[MED9_ITEMS[i]]], dat[[MED9_ITEMS[j]]])
    zero_cells <- zero_cells + sum(tt == 0)
  }
  warn <- character(0)
  fit_w <- withCallingHandlers(
    run_case("med9_wlsmv", MED9, dat, rel, "sem", list(ordered = MED9_ITEMS, estimator = "WLSMV"),
             notes = "placeholder",
             files = list(polychoric.csv = "lavInspect(fit, \"sampstat\")$cov (polychoric correlations)",
                          thresholds.csv = "lavInspect(fit, \"sampstat\")$th (sample thresholds)")),
    warning = function(w) { warn <<- c(warn, conditionMessage(w)); invokeRestart("muffleWarning") })
  write_ordinal_extras(fit_w, "med9_wlsmv")
  cat_counts <- sapply(MED9_ITEMS, function(v) length(unique(na.omit(dat[[v]]))))
  note_w <- paste(sim_note, "All 31 items declared ordered; WLSMV, parameterization delta.",
                  sprintf("Items with unobserved categories among 1..7: %s.",
                          if (length(empty_items)) paste(sprintf("%s (%d empty)", names(empty_items), empty_items),
                                                         collapse = ", ") else "none"),
                  sprintf("Observed categories per item: min %d, max %d.", min(cat_counts), max(cat_counts)),
                  sprintf("Empty cells over all %d bivariate tables of observed categories: %d.",
                          length(MED9_ITEMS) * (length(MED9_ITEMS) - 1) / 2, zero_cells),
                  sprintf("lavaan warnings: %s", if (length(warn)) paste(unique(warn), collapse = " | ") else "none"))
  mpath <- file.path(REF, "med9_wlsmv", "meta.json")
  meta <- jsonlite::read_json(mpath)
  meta$notes <- note_w
  write_json_file(meta, mpath)
  cat(note_w, "\n")

  # ~5% MCAR: exactly 5% of the 500 x 31 item cells (775) set to NA, chosen uniformly with a fixed seed
  set.seed(20240612L)
  miss <- dat
  cells <- sample.int(nrow(miss) * length(MED9_ITEMS), size = round(0.05 * nrow(miss) * length(MED9_ITEMS)))
  m <- as.matrix(miss[MED9_ITEMS])
  m[cells] <- NA
  miss[MED9_ITEMS] <- as.data.frame(m)
  mpath_data <- file.path(DATA, "sim_med9_missing.csv")
  write_csv_file(miss, mpath_data)
  miss <- read.csv(mpath_data)
  mrel <- "../data/sim_med9_missing.csv"
  mnote <- paste("SIMULATED data with MCAR missingness: sim_med9_missing.csv = sim_med9.csv with exactly 5% of",
                 "the item cells (775 of 15500) set to NA (seed 20240612).",
                 sprintf("Complete rows: %d of %d.", sum(complete.cases(miss[MED9_ITEMS])), nrow(miss)))
  run_case("med9_fiml", MED9, miss, mrel, "sem", list(estimator = "ML", missing = "fiml"),
           notes = paste(mnote, "ML with FIML."))
  run_case("med9_fiml_mlr", MED9, miss, mrel, "sem", list(estimator = "MLR", missing = "fiml"),
           notes = paste(mnote, "MLR with FIML."))
  run_case("med9_listwise_missing", MED9, miss, mrel, "sem", list(),
           notes = paste(mnote, "ML with lavaan's default listwise deletion."))
}

for (p in parts) {
  cat("==== part", p, "====\n")
  switch(p, bfi = part_bfi(), roles = part_roles(), hs = part_hs(), med9 = part_med9(),
         stop("unknown part ", p))
}
