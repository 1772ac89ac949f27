# Reference values for the fit indices at their edge cases (engine/fitindices.py), under ML, MLR and WLSMV.
#
# Written with: R version 4.2.2 Patched (2022-11-10 r83330), lavaan 0.6.14, jsonlite.
# Rerun from the repo root:
#   Rscript tests/reference/R/make_reference_fitindices.R
#
# Case folders (each under tests/reference/<case>/: model.lav, meta.json, estimates.csv, fit.json, r2.json):
#   fi_justid_{ml,mlr,wlsmv}  one factor, three indicators: just identified (df = 0)
#   fi_saturated_{ml,mlr}     x4 ~ x1 + x2 + x3 with fixed.x = TRUE: saturated (df = 0), three fixed-x covariates
#   fi_weak_{ml,mlr,wlsmv}    a path model on nearly uncorrelated variables: baseline chi-square near its df
#                             (TLI outside [0, 1], CFI at its bounds); data simulated here (data/sim_weak.csv)
#   fi_mimic_{ml,mlr}         MIMIC model with three fixed-x covariates (sex, ageyr, agemo) on HolzingerSwineford1939
#   fi_growth_cov_ml          linear growth model with two fixed-x covariates on lavaan's Demo.growth
#   fi_misfit_ml              a heavily misfitting model (one factor for psych::bfi's 25 items)
#   fi_misfit_small_ml        heavy misfit in small units (HS x1..x9 divided by 30, data/hs_div30.csv)
#
# Every random draw uses a fixed seed with the RNG kinds set explicitly.

suppressPackageStartupMessages({
  library(lavaan)
  library(jsonlite)
})
options(digits = 15)
RNGkind("Mersenne-Twister", "Inversion", "Rejection")
stopifnot(as.character(packageVersion("lavaan")) == "0.6.14")

SCRIPT <- "tests/reference/R/make_reference_fitindices.R"
REF <- "tests/reference"
DATA <- file.path(REF, "data")
if (!dir.exists(REF)) stop("run this script from the repository root")

write_json_file <- function(x, path) jsonlite::write_json(x, path, auto_unbox = TRUE, digits = NA, pretty = TRUE)
write_csv_file <- function(df, path) write.csv(df, path, row.names = FALSE, na = "")
case_dir <- function(case) { d <- file.path(REF, case); dir.create(d, showWarnings = FALSE, recursive = TRUE); d }
EMPTY_OBJ <- setNames(list(), character(0))

estimates_table <- function(fit) {
  pe <- as.data.frame(parameterEstimates(fit, standardized = TRUE, rsquare = FALSE))
  if (!"label" %in% names(pe)) pe$label <- ""
  pe[, c("lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci.lower", "ci.upper", "std.lv", "std.all")]
}
r2_list <- function(fit) as.list(unclass(lavInspect(fit, "r2")))
deparse_arg <- function(x) paste(deparse(x, width.cutoff = 500L), collapse = " ")
call_text <- function(fun_name, args) {
  a <- if (length(args)) paste0(", ", paste(names(args), vapply(args, deparse_arg, ""), sep = " = ", collapse = ", ")) else ""
  sprintf("%s(model, data = dat%s)", fun_name, a)
}

run_case <- function(case, model, data, data_rel, fun_name, args = list(), notes = "", data_prep = "") {
  fit <- do.call(fun_name, c(list(model = model, data = quote(data)), args))
  if (!lavInspect(fit, "converged")) stop(case, ": did not converge")
  d <- case_dir(case)
  writeLines(model, file.path(d, "model.lav"))
  write_csv_file(estimates_table(fit), file.path(d, "estimates.csv"))
  fm <- fitMeasures(fit)
  write_json_file(as.list(fm), file.path(d, "fit.json"))
  write_json_file(r2_list(fit), file.path(d, "r2.json"))
  o <- lavInspect(fit, "options")
  meta <- list(
    case = case, script = SCRIPT, lavaan = as.character(packageVersion("lavaan")),
    call = call_text(fun_name, args), data = data_rel, data_prep = data_prep, recode = EMPTY_OBJ,
    options = list(estimator = if (is.null(args$estimator)) "ML" else args$estimator,
                   estimator_internal = o$estimator, missing = o$missing, fixed_x = o$fixed.x,
                   ordered = lavNames(fit, "ov.ord"), se = o$se, test = o$test),
    ov_x = lavNames(fit, "ov.x"),
    nobs = as.list(lavInspect(fit, "nobs")), converged = lavInspect(fit, "converged"),
    iterations = lavInspect(fit, "iterations"), notes = notes,
    files = list(model.lav = "the exact lavaan syntax fitted",
                 estimates.csv = "parameterEstimates(fit, standardized = TRUE, rsquare = FALSE) without block and std.nox",
                 fit.json = "as.list(fitMeasures(fit))", r2.json = "lavInspect(fit, \"r2\")"))
  write_json_file(meta, file.path(d, "meta.json"))
  cat(sprintf("%-20s chisq = %.4f df = %d cfi = %.4f tli = %.4f\n", case, fm[["chisq"]], as.integer(fm[["df"]]),
              fm[["cfi"]], fm[["tli"]]))
  fit
}

hs <- read.csv(file.path(DATA, "HolzingerSwineford1939.csv"))
hs_ord <- read.csv(file.path(DATA, "hs_ordinal.csv"))
HS_REL <- "../data/HolzingerSwineford1939.csv"
ORD_REL <- "../data/hs_ordinal.csv"
ORD <- paste0("x", 1:9)

# just identified: df = 0 with a latent variable
JUSTID <- "visual =~ x1 + x2 + x3"
run_case("fi_justid_ml", JUSTID, hs, HS_REL, "cfa", notes = "just identified (df = 0)")
run_case("fi_justid_mlr", JUSTID, hs, HS_REL, "cfa", list(estimator = "MLR"), notes = "just identified (df = 0), MLR")
run_case("fi_justid_wlsmv", JUSTID, hs_ord, ORD_REL, "cfa", list(ordered = c("x1", "x2", "x3"), estimator = "WLSMV"),
         notes = "just identified (df = 0), WLSMV on the tercile-cut items")

# saturated regression with three fixed-x covariates
SAT <- "x4 ~ x1 + x2 + x3"
run_case("fi_saturated_ml", SAT, hs, HS_REL, "sem", notes = "saturated (df = 0), fixed.x = TRUE")
run_case("fi_saturated_mlr", SAT, hs, HS_REL, "sem", list(estimator = "MLR"), notes = "saturated (df = 0), MLR")

# baseline chi-square near its df: nearly uncorrelated variables
weak_path <- file.path(DATA, "sim_weak.csv")
set.seed(20261201)
n <- 250
y1 <- rnorm(n); y2 <- 0.08 * y1 + rnorm(n); y3 <- 0.05 * y2 + rnorm(n); y4 <- rnorm(n)
weak <- data.frame(y1, y2, y3, y4)
weak_cut <- as.data.frame(lapply(weak, function(v) as.integer(cut(v, c(-Inf, -0.5, 0.5, Inf)))))
names(weak_cut) <- paste0(names(weak), "c")
write_csv_file(cbind(round(weak, 6), weak_cut), weak_path)
weak <- read.csv(weak_path)
WEAK <- "y2 ~~ y1\ny3 ~~ y2"
WEAK_PREP <- "set.seed(20261201); n = 250; y1..y4 standard normal with y2 = .08 y1 + e, y3 = .05 y2 + e; rounded to 6 digits; y*c = cut at -0.5, 0.5"
run_case("fi_weak_ml", WEAK, weak, "../data/sim_weak.csv", "sem", notes = "baseline chi-square near its df", data_prep = WEAK_PREP)
run_case("fi_weak_mlr", WEAK, weak, "../data/sim_weak.csv", "sem", list(estimator = "MLR"),
         notes = "baseline chi-square near its df, MLR", data_prep = WEAK_PREP)
run_case("fi_weak_wlsmv", "y2c ~~ y1c\ny3c ~~ y2c", weak, "../data/sim_weak.csv", "sem",
         list(ordered = c("y1c", "y2c", "y3c", "y4c"), estimator = "WLSMV"),
         notes = "baseline chi-square near its df, WLSMV", data_prep = WEAK_PREP)

# MIMIC: three fixed-x covariates
MIMIC <- "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nvisual ~ sex + ageyr + agemo\ntextual ~ sex + ageyr + agemo"
run_case("fi_mimic_ml", MIMIC, hs, HS_REL, "sem", notes = "MIMIC with fixed-x covariates sex, ageyr, agemo")
run_case("fi_mimic_mlr", MIMIC, hs, HS_REL, "sem", list(estimator = "MLR"), notes = "MIMIC, MLR")

# growth with covariates
growth_path <- file.path(DATA, "demo_growth.csv")
write_csv_file(lavaan::Demo.growth, growth_path)
growth <- read.csv(growth_path)
GROWTH <- "i =~ 1*t1 + 1*t2 + 1*t3 + 1*t4\ns =~ 0*t1 + 1*t2 + 2*t3 + 3*t4\ni ~ x1 + x2\ns ~ x1 + x2"
run_case("fi_growth_cov_ml", GROWTH, growth, "../data/demo_growth.csv", "sem",
         notes = "linear growth model (covariance structure only, sem()) with fixed-x covariates x1, x2 (lavaan Demo.growth)",
         data_prep = "lavaan::Demo.growth written as data/demo_growth.csv")

# heavy misfit
bfi <- read.csv(file.path(DATA, "bfi.csv"))
for (v in c("A1", "C4", "C5", "E1", "E2", "O2", "O5")) bfi[[v]] <- 7 - bfi[[v]]
ONE <- paste("g =~", paste(c(paste0("A", 1:5), paste0("C", 1:5), paste0("E", 1:5), paste0("N", 1:5), paste0("O", 1:5)), collapse = " + "))
run_case("fi_misfit_ml", ONE, bfi, "../data/bfi.csv", "cfa", notes = "one factor for 25 items: heavy misfit",
         data_prep = "dat <- read.csv(\"tests/reference/data/bfi.csv\"); for (v in c(\"A1\",\"C4\",\"C5\",\"E1\",\"E2\",\"O2\",\"O5\")) dat[[v]] <- 7 - dat[[v]]")

# heavy misfit in small units: HolzingerSwineford1939's x1..x9 divided by 30, one factor (chi-square 312 on
# 27 df); lavaan 0.6.14 itself stops converging from about x/50 on (tests/test_fitindices.py also fits x/1000,
# where the chi-square must equal the unit-scale one: ML is scale invariant)
hs_k <- hs
for (v in paste0("x", 1:9)) hs_k[[v]] <- hs_k[[v]] / 30
write_csv_file(hs_k, file.path(DATA, "hs_div30.csv"))
hs_k <- read.csv(file.path(DATA, "hs_div30.csv"))
run_case("fi_misfit_small_ml", paste("g =~", paste(paste0("x", 1:9), collapse = " + ")), hs_k,
         "../data/hs_div30.csv", "cfa", notes = "one factor for HS x1..x9 divided by 30: heavy misfit, small units",
         data_prep = "HolzingerSwineford1939 with x1..x9 divided by 30, written as data/hs_div30.csv")
