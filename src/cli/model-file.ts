// The CLI's checkpoint loader: every format a command accepts, by what the file is.
export { buildModel, loadModel, quantOf, QuantCard } from '../train/model-file';
