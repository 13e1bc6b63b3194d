// The CLI's model loader: every format a command accepts, by what the file is.
export { buildModel, quantOf, QuantCard } from '../train/model-file';
export { loadModel } from '../export/load';
