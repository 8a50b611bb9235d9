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
export type { AuthScheme, ClientOptions, GetToken, RetryOptions } from "./client.js";
export {
  AIProxyError, AuthenticationError, BudgetExceededError, ConflictError, NetworkError, NotFoundError, PermissionError, RateLimitError,
  TimeoutError, UpstreamError, UpstreamTimeoutError, ValidationError, VideoFailedError, errorFromResponse,
} from "./errors.js";
export type { ErrorInit } from "./errors.js";
export { LiveSocketError, LiveSpeech, SOCKET_SUBPROTOCOL, liveAvatarBody, openLiveSpeech } from "./live.js";
export type {
  Alignment, LiveAvatarSessionInfo, LiveAvatarSessionRequest, LiveSession, LiveSpeechChunk, LiveSpeechEnd, LiveSpeechOptions, SocketCredential,
  WebSocketConstructor, WebSocketLike,
} from "./live.js";
export { HeyGen, videoErrorText } from "./heygen.js";
export type {
  Avatar, HeyGenVoice, SimpleVideo, TemplateVideoRequest, VideoInput, VideoProgress, VideoRequest, VideoStatus, WaitOptions,
} from "./heygen.js";
export { DEFAULT_TTS_MODEL, ElevenLabs, ttsEnvelope } from "./elevenlabs.js";
export type { ElevenLabsVoice, Model, TTSRequest } from "./elevenlabs.js";
export type {
  Budget, BudgetEnforcement, BudgetScope, BudgetStatus, BudgetWindow, BudgetZone, CredentialPolicy, DecodeAs, EndpointDescriptor,
  Envelope, Grants, InvokeOptions, InvokeResult, Me, MintUserTokenRequest, QueryValue, RequestMode, RequestOptions, ResponseMode,
  ServiceDetail, ServiceSummary, SetBudgetRequest, UserToken,
} from "./types.js";
