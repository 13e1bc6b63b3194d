// Which integer type carries a quantizer's codes, given the opset. ONNX has uint4 Q/DQ from
// opset 21 and uint2 from opset 25; before that the codes go in uint8 and a Clip keeps an
// activation's codes inside its true range. What each choice asks of ONNX Runtime (checked with
// onnxruntime-node, see experiments/onnx/README.md): opset 25 (uint2) needs ORT >= 1.24,
// opset 21 (uint4) ORT >= 1.19, opset 13 (uint8) any ORT of the last years.
import { DataType } from './schema';

export type Container = 'uint2' | 'uint4' | 'uint8';

interface ContainerInfo { bits: number; dataType: number; minOpset: number }
export const CONTAINERS: Record<Container, ContainerInfo> = {
  uint2: { bits: 2, dataType: DataType.UINT2, minOpset: 25 },
  uint4: { bits: 4, dataType: DataType.UINT4, minOpset: 21 },
  uint8: { bits: 8, dataType: DataType.UINT8, minOpset: 13 },
};
const ORDER: Container[] = ['uint2', 'uint4', 'uint8'];

/** The oldest opset this exporter writes (per-axis DequantizeLinear, Clip with tensor bounds). */
export const MIN_OPSET = 13;
/** The newest opset this exporter knows the IR version of. */
export const MAX_OPSET = 25;

/** The IR version that goes with an opset (onnx/helper.py VERSION_TABLE). */
export function irVersionFor(opset: number): number {
  if (opset >= 25) return 13;
  if (opset >= 23) return 11;
  if (opset >= 21) return 10;
  if (opset >= 19) return 9;
  if (opset >= 14) return 8;
  return 7;
}

export function checkOpset(opset: number): number {
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new Error(`onnx export: opset must be an integer from ${MIN_OPSET} to ${MAX_OPSET}, got ${opset}`);
  }
  return opset;
}

/** Bits needed for codes 0..maxCode (at least 1). */
export function codeBits(maxCode: number): number {
  return Math.max(1, Math.ceil(Math.log2(maxCode + 1)));
}

/** The smallest container of at least `bits` bits the opset allows. */
export function containerFor(bits: number, opset: number): Container {
  const c = ORDER.find((k) => CONTAINERS[k].bits >= bits && CONTAINERS[k].minOpset <= opset);
  if (!c) throw new Error(`onnx export: codes of ${bits} bits do not fit an 8-bit container`);
  return c;
}

/** The default opset: the smallest that gives every quantizer its smallest container. */
export function defaultOpset(bitsList: number[]): number {
  const need = bitsList.map((b) => CONTAINERS[containerFor(b, MAX_OPSET)].minOpset);
  return Math.max(MIN_OPSET, ...need);
}
