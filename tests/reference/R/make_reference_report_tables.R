# Reference values for the paper tables: descriptives (construct means/SDs, item skew/kurtosis, latent
# correlations), collinearity (inner-model and full-collinearity VIF), f² of every structural path,
# and the sample profile counts.
# R version 4.2.2 Patched (2022-11-10 r83330); lavaan 0.6.14, psych 2.2.9.
# Rerun from the repo root:  Rscript tests/reference/R/make_reference_report_tables.R
#
# Cases written:
#   tests/reference/report_med9/  tests/reference/data/sim_med9.csv (simulated), the med9 model
#   (same folder) profile*.csv from sem_cocreate/resources/data/cocreation_demo.csv (simulated): profile counts
#
# How each number is computed here (independently of the Python code):
#   construct score   rowMeans(items)                          (unit-weighted composite)
#   mean, sd          mean(), sd()                             (divisor n - 1)
#   skew, kurtosis    psych::describe(items)$skew / $kurtosis  (type 3)
#   latent cor        lavInspect(cfa(measurement model), "cor.lv")
#   VIF               1 / (1 - summary(lm(x_j ~ x_others))$r.squared)   (car::vif's value for 1-df terms)
#   f2                (R2_incl - R2_excl) / (1 - R2_incl), R2 from lavInspect(sem(...), "r2"), R2_excl from
#                     sem() refitted without that one path (every other parameter re-estimated)
#   profile           table(x, useNA = "ifany")
suppressPackageStartupMessages({ library(lavaan); library(psych); library(jsonlite) })
options(digits = 15)
stopifnot(as.character(packageVersion("lavaan")) == "0.6.14",
          as.character(packageVersion("psych")) == "2.2.9")
root <- "tests/reference"
wcsv <- function(df, path) write.csv(df, path, row.names = FALSE, na = "")

# ---- report_med9 -----------------------------------------------------------------------------
case <- file.path(root, "report_med9")
dir.create(case, showWarnings = FALSE)
d <- read.csv(file.path(root, "data", "sim_med9.csv"))
model <- readLines(file.path(root, "med9", "model.lav"))
writeLines(model, file.path(case, "model.lav"))
cons <- list(PS = paste0("ps", 1:4), TC = paste0("tc", 1:3), EM = paste0("em", 1:3), IM = paste0("im", 1:3),
             TR = paste0("tr", 1:3), RI = paste0("ri", 1:4), KS = paste0("ks", 1:4), VCC = paste0("vcc", 1:4),
             SAT = paste0("sat", 1:3))
scores <- as.data.frame(lapply(cons, function(it) rowMeans(d[, it])))
meas <- paste(sprintf("%s =~ %s", names(cons), sapply(cons, paste, collapse = " + ")), collapse = "\n")
cfit <- cfa(meas, data = d)
cl <- lavInspect(cfit, "cor.lv")
desc <- do.call(rbind, lapply(names(cons), function(k) {
  ds <- psych::describe(d[, cons[[k]]])
  data.frame(construct = k, n_items = length(cons[[k]]), mean = mean(scores[[k]]), sd = sd(scores[[k]]),
             skew_min = min(ds$skew), skew_max = max(ds$skew),
             kurtosis_min = min(ds$kurtosis), kurtosis_max = max(ds$kurtosis))
}))
cl_df <- as.data.frame(cl[names(cons), names(cons)])
wcsv(cbind(desc, cl_df), file.path(case, "descriptives.csv"))
wcsv(data.frame(construct = rownames(cl), cl, check.names = FALSE), file.path(case, "cor_lv.csv"))

vif_lm <- function(df) {
  sapply(names(df), function(v) {
    if (ncol(df) == 1) return(1)
    r2 <- summary(lm(reformulate(setdiff(names(df), v), response = v), data = df))$r.squared
    1 / (1 - r2)
  })
}
fit <- sem(paste(model, collapse = "\n"), data = d)
pe_std <- parameterEstimates(fit, standardized = TRUE)
pe_std$std.nox <- NULL
if (is.null(pe_std$label)) pe_std$label <- ""
wcsv(pe_std[, c("lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci.lower", "ci.upper", "std.lv", "std.all")],
     file.path(case, "estimates.csv"))
write_json(as.list(fitMeasures(fit)), file.path(case, "fit.json"), auto_unbox = TRUE, digits = NA, pretty = TRUE)
pe <- parameterEstimates(fit)
reg <- pe[pe$op == "~", ]
rows <- list()
for (y in unique(reg$lhs)) {
  preds <- reg$rhs[reg$lhs == y]
  v <- vif_lm(scores[, preds, drop = FALSE])
  rows[[length(rows) + 1]] <- data.frame(kind = "inner", lhs = y, rhs = preds, vif = unname(v))
}
vf <- vif_lm(scores)
rows[[length(rows) + 1]] <- data.frame(kind = "full", lhs = "", rhs = names(vf), vif = unname(vf))
wcsv(do.call(rbind, rows), file.path(case, "collinearity.csv"))

# f2: refit without each path (the := lines go; they use the labels)
r2_full <- lavInspect(fit, "r2")
struct <- model[!grepl(":=", model)]
f2rows <- list()
for (i in seq_len(nrow(reg))) {
  y <- reg$lhs[i]; x <- reg$rhs[i]
  red <- struct
  j <- grep(sprintf("^%s ~ ", y), red)
  terms <- trimws(strsplit(sub("^[^~]*~", "", red[j]), "\\+")[[1]])
  keep <- terms[sub(".*\\*", "", terms) != x]
  if (length(keep)) {
    red[j] <- paste(y, "~", paste(keep, collapse = " + "))
    r2_ex <- lavInspect(sem(paste(red, collapse = "\n"), data = d), "r2")[[y]]
  } else {
    r2_ex <- 0
  }
  inc <- r2_full[[y]]
  f2rows[[i]] <- data.frame(lhs = y, op = "~", rhs = x, r2_included = inc, r2_excluded = r2_ex,
                            f2 = (inc - r2_ex) / (1 - inc))
}
wcsv(do.call(rbind, f2rows), file.path(case, "effect_sizes.csv"))
write_json(list(case = "report_med9", script = "tests/reference/R/make_reference_report_tables.R",
                lavaan = as.character(packageVersion("lavaan")), psych = as.character(packageVersion("psych")),
                R = R.version.string, data = "../data/sim_med9.csv", recode = setNames(list(), character(0)),
                n = nrow(d),
                files = list(estimates.csv = "parameterEstimates(sem(model), standardized = TRUE)",
                             fit.json = "fitMeasures(sem(model))",
                             profile.csv = "cocreation_demo.csv: table(x, useNA = 'ifany') and prop.table() of role, platform and mode",
                             profile_numeric.csv = "cocreation_demo.csv: mean and sd (na.rm) of tenure (instrument v2; experience in v1)",
                             descriptives.csv = "construct mean/sd of rowMeans scores, item skew/kurtosis range (psych::describe), lavInspect(cfa, 'cor.lv') columns",
                             cor_lv.csv = "lavInspect(cfa(measurement model), 'cor.lv')",
                             collinearity.csv = "VIF = 1/(1 - R2) from lm() on construct scores; inner per endogenous, full over all constructs",
                             effect_sizes.csv = "f2 from lavInspect(sem(), 'r2') with and without each path")),
           file.path(case, "meta.json"), auto_unbox = TRUE, pretty = TRUE)

# ---- sample profile counts (into report_med9) ---------------------------------------------------
case <- file.path(root, "report_med9")
demo <- read.csv("sem_cocreate/resources/data/cocreation_demo.csv")
prof <- do.call(rbind, lapply(c("role", "platform", "mode"), function(f) {
  tb <- table(demo[[f]], useNA = "ifany")
  data.frame(field = f, code = names(tb), n = as.integer(tb), share = as.numeric(prop.table(tb)))
}))
prof <- rbind(prof, data.frame(field = "tenure", code = "", n = sum(!is.na(demo$tenure)),
                               share = mean(!is.na(demo$tenure))))
wcsv(prof, file.path(case, "profile.csv"))
wcsv(data.frame(field = "tenure", mean = mean(demo$tenure, na.rm = TRUE),
                sd = sd(demo$tenure, na.rm = TRUE)), file.path(case, "profile_numeric.csv"))
cat("written report_med9\n")
