export default { compilerOptions: {} };
