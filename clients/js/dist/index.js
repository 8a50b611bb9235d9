/**
 * @aiproxy/client: the client of aiproxy's External Service Proxy API.
 *
 * ```js
 * import { AIProxyClient } from "@aiproxy/client";
 * const ai = new AIProxyClient({ baseUrl, org, apiKey });
 * const avatars = await ai.heygen.listAvatars();
 * ```
 */
export { AIProxyClient, USER_TOKEN_PREFIX, mintUserToken, withAccessToken } from "./client.js";
export { sleep } from "./sleep.js";
export { AIProxyError, AuthenticationError, BudgetExceededError, ConflictError, NetworkError, NotFoundError, PermissionError, RateLimitError, TimeoutError, UpstreamError, UpstreamTimeoutError, ValidationError, VideoFailedError, errorFromResponse, } from "./errors.js";
export { LiveSocketError, LiveSpeech, SOCKET_SUBPROTOCOL, liveAvatarBody, openLiveSpeech } from "./live.js";
export { HeyGen, videoErrorText } from "./heygen.js";
export { DEFAULT_TTS_MODEL, ElevenLabs, ttsEnvelope } from "./elevenlabs.js";
