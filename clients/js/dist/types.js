/** Types of the External Service Proxy API, as aiproxy serves it. */
export {};
