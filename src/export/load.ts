// Any model file gdnsq writes, by what it is: a checkpoint or a packed file (export/packed-format).
import { Model } from '../models';
import { ModelCard, loadModelFile, modelFromState } from '../train';
import { isPackedFile, readPackedState } from './packed-format';

/** Loads a checkpoint or a packed file into a freshly built model; the file's tensors are freed. */
export function loadModel(file: string): { model: Model; card: ModelCard } {
  const { state, card } = isPackedFile(file) ? readPackedState(file) : loadModelFile(file);
  return modelFromState(file, state, card);
}
