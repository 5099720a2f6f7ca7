/**
 * Secure aggregation (SecAgg+, Bell et al. 2020, "Secure Single-Server Aggregation with
 * (Poly)Logarithmic Overhead"; Flower's SecAggPlusWorkflow is the reference layout) — the protocol
 * library, pure and platform-neutral (browsers, workers, Node; @noble/* and crypto.getRandomValues).
 * Transport, signing of the phase messages and the server's round state machine live elsewhere.
 *
 * Phases: advertise keys → share keys → masked input → unmask (schemas.ts). Each client adds to its
 * quantized update a self-mask PRG(b) and, per neighbour v, ±PRG(s_uv) where s_uv comes from X25519
 * of the two clients' mask keys; b and the mask secret key are Shamir-shared (threshold t) to the
 * neighbours, encrypted under X25519 + HKDF keys with ChaCha20-Poly1305. The server unmasks the
 * sum by reconstructing b for each survivor and the mask key for each client that dropped after
 * sharing, never both for one client.
 *
 * Threat model. The server is honest but curious: it follows the protocol and tries to learn from
 * what it sees; it learns only the sum of the survivors' inputs. Up to n − t clients (per
 * neighbourhood: k + 1 − t) may drop at any phase and the sum of the rest stays exact; up to t − 1
 * clients of a neighbourhood may collude (with each other or with the server) without learning a
 * neighbour's input, since t − 1 Shamir shares reveal nothing. NOT covered: a server that lies
 * (e.g. tells one client "v survived" and another "v dropped" to collect both secrets of v) —
 * clients refuse any single request that asks for both, but catching inconsistent requests across
 * clients needs SecAgg's extra signed consistency round, which this library does not run; the
 * phase messages are meant to be signed (canonicalMessageBytes) so that such lies are provable.
 * Malicious clients can still send any vector within the quantization range (clipping bounds
 * their influence; nothing here proves an input honest).
 *
 * Parameters and why:
 * - Shamir over the prime 2^521 − 1: a 32-byte secret is one field element (shamir.ts).
 * - Threshold t: default a strict majority of each neighbourhood (⌊(k+1)/2⌋ + 1), and never less —
 *   a lower t would let two disjoint groups each reconstruct; n = 5 gives t = 3, so 2 may drop.
 * - Neighbours k: everyone up to 16 clients (the original SecAgg), beyond that a random Harary
 *   graph with k ≈ 6·log2 n from a public seed (graph.ts).
 * - Fixed point: clip 1 per coordinate, scale 2^20, headroom for 1024 clients: LoRA deltas sit well
 *   inside [−1, 1], and the per-coordinate rounding error stays under 2^-20 (quantize.ts).
 * - Masks: ChaCha20 keystream (prg.ts); keys: X25519 + HKDF-SHA-256 bound to round, purpose and
 *   parties (keys.ts).
 */
export * from './schemas.ts';
export * from './shamir.ts';
export * from './prg.ts';
export * from './quantize.ts';
export * from './graph.ts';
export { checkRoster, checkThreshold, type RosterView } from './roster.ts';
export { generateKeyPair, publicKeyOf, type X25519KeyPair } from './keys.ts';
export { SecAggClient, type ClientPhase, type SecAggClientState } from './client.ts';
export * from './server.ts';
