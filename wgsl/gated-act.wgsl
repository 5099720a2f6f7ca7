// act(gate) · up for gated FFNs: SiLU for llama/qwen/exaone (SwiGLU); tanh-approximated GELU for
// Gemma (GeGLU), as llama.cpp's ggml_gelu. Shared by activation.wgsl and the fused glu.wgsl.

const SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const GELU_COEF_A: f32 = 0.044715;

fn gated_act(g: f32, u: f32) -> f32 {
#ifdef GELU
  let a = 0.5 * g * (1.0 + tanh(SQRT_2_OVER_PI * g * (1.0 + GELU_COEF_A * g * g)));
#else
  let a = g / (1.0 + exp(-g));
#endif
  return a * u;
}
