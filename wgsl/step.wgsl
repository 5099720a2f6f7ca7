// Per-step values shared by every kernel of a forward pass (encodeStep in src/engine/gpu/params.ts).
struct Step {
  n_tokens: u32,  // tokens in this batch
  pos: u32,       // position of the batch's first token
  kv_len: u32,    // pos + n_tokens
  _pad: u32,
};
