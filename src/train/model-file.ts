// Rebuilds the model a checkpoint describes: the architecture from its card and, for a
// quantized checkpoint, the same quantize() options, so the state dict loads strictly.
import { Tensor } from '../engine';
import { createModel, Model, GraphModel, GRAPH_MODEL, GraphDesc } from '../models';
import { quantize, QuantizeOptions } from '../quant';
import { ModelCard, loadModelFile } from './checkpoint';

export interface QuantCard { options: QuantizeOptions }

export function quantOf(card: ModelCard): QuantCard | null {
  const q = card.quant as QuantCard | undefined;
  return q && typeof q === 'object' && q.options ? q : null;
}

export function buildModel(card: ModelCard): Model {
  // An imported ONNX graph is rebuilt from the description its card carries (no code, no file).
  const model = card.model === GRAPH_MODEL ? new GraphModel(card.graph as GraphDesc, card.args) : createModel(card.model, card.args);
  const q = quantOf(card);
  if (q) quantize(model, q.options);
  return model;
}

/** Builds the model a card describes and loads `state` into it strictly; the tensors are freed. */
export function modelFromState(file: string, state: Record<string, Tensor>, card: ModelCard): { model: Model; card: ModelCard } {
  const model = buildModel(card);
  try {
    model.loadStateDict(state, { strict: true });
  } catch (e) {
    model.dispose();
    throw new Error(`${file}: ${(e as Error).message}`);
  } finally {
    for (const t of Object.values(state) as Tensor[]) t.dispose();
  }
  return { model, card };
}

/** Loads a checkpoint into a freshly built model; the file's tensors are freed. */
export function loadModel(file: string): { model: Model; card: ModelCard } {
  const { state, card } = loadModelFile(file);
  return modelFromState(file, state, card);
}
