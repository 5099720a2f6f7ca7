export declare const CHROMIUM_LIB_DIR: string;
export declare const SWIFTSHADER_ICD: string;
export declare function lavapipeIcd(): string | undefined;
export declare function softwareVulkanEnv(
  env?: NodeJS.ProcessEnv,
  opts?: { lavapipe?: boolean },
): Record<string, string>;
