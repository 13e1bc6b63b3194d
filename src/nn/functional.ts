// The functional ops layers are built from: engine's F, re-exported so model code imports
// everything neural from nn.
export * from '../engine/functional';
