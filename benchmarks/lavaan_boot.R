
suppressPackageStartupMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
model <- paste(readLines(args[1]), collapse = "\n")
dat <- read.csv(args[2])
R <- as.integer(args[3]); out <- args[4]; par <- args[5]; ncpus <- as.integer(args[6])
tm <- system.time({
  fit <- sem(model, data = dat, se = "bootstrap", bootstrap = R, iseed = 20240518L,
             parallel = par, ncpus = ncpus)
  pe <- parameterEstimates(fit, boot.ci.type = "perc")
})
write.csv(pe[, c("lhs", "op", "rhs", "est", "se", "ci.lower", "ci.upper")], out, row.names = FALSE)
b <- lavInspect(fit, "boot")
cpu <- sum(tm[c("user.self", "sys.self", "user.child", "sys.child")], na.rm = TRUE)
cat(sprintf('{"elapsed": %.3f, "cpu": %.3f, "n_failed": %d}\n', tm[["elapsed"]], cpu,
            length(attr(b, "error.idx"))))
