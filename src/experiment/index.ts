// The experiment layer: grids of quantization runs (GDNSQ rows, PTQ and fixed-bit baselines,
// ablations) from one config, resumable, with their results table. Above train/quant/export/report.
export * from './config';
export { ptq, PtqOptions, PtqResult } from './ptq';
export { loadGridData, GridData } from './grid-data';
export { ResultRow, Results, readResults, mergeResults, resultRow, writeJsonAtomic } from './results';
export { resultsMarkdown, checkGoals, GoalCheck, MarkdownOptions } from './results-markdown';
export { runRow, readRowResult, rowDir, trainingOptions, RowRunOptions, RowOutcome, RESULT_FILE } from './row';
export { runGrid, gridStatus, formatStatus, writeResults, writeResultsPlot, redrawResults, rowCommand, GridRunOptions, GridOutcome, RowStatus, RowState, SIZE_NOTE } from './grid';
export { shipRows, shippedName, modelCard, ShipOptions, ShippedModel } from './ship';
