/**
 * Errors of the HTTP API, in EMQX's shape: a status and a body `{ code, message }` with EMQX's
 * codes (emqx_dashboard_swagger:error_codes/2, emqx_dashboard.erl), so scripts written against
 * EMQX read them the same way:
 *
 *   400 BAD_REQUEST            a parameter or body is invalid
 *   401 AUTHORIZATION_HEADER_ERROR  no (or an unreadable) Authorization header
 *   401 BAD_API_KEY_OR_SECRET  Basic credentials that match no enabled, unexpired API key
 *   401 API_KEY_NOT_ALLOW      an API key used where only a logged-in user may go
 *   401 BAD_TOKEN              a Bearer token that was never issued or was revoked (logout)
 *   401 TOKEN_TIME_OUT         a Bearer token past its expiry
 *   401 BAD_USERNAME_OR_PWD    POST /login with wrong credentials
 *   403 UNAUTHORIZED_ROLE      a viewer writing, a publisher doing more than publish
 *   404 NOT_FOUND, CLIENTID_NOT_FOUND
 *   409 ALREADY_EXISTS
 *   501 NOT_IMPLEMENTED        a feature whose module has not landed (said, never faked)
 *   503 SERVICE_UNAVAILABLE
 */

export const ApiErrorCode = {
  BadRequest: 'BAD_REQUEST',
  AuthorizationHeaderError: 'AUTHORIZATION_HEADER_ERROR',
  BadApiKeyOrSecret: 'BAD_API_KEY_OR_SECRET',
  ApiKeyNotAllow: 'API_KEY_NOT_ALLOW',
  UnauthorizedRole: 'UNAUTHORIZED_ROLE',
  BadToken: 'BAD_TOKEN',
  TokenTimeOut: 'TOKEN_TIME_OUT',
  BadUsernameOrPwd: 'BAD_USERNAME_OR_PWD',
  NotFound: 'NOT_FOUND',
  ClientIdNotFound: 'CLIENTID_NOT_FOUND',
  AlreadyExists: 'ALREADY_EXISTS',
  NotImplemented: 'NOT_IMPLEMENTED',
  ServiceUnavailable: 'SERVICE_UNAVAILABLE',
  InternalError: 'INTERNAL_ERROR',
} as const;
export type ApiErrorCode = (typeof ApiErrorCode)[keyof typeof ApiErrorCode];

/** HTTP statuses the API answers with. */
export const HttpStatus = {
  Ok: 200,
  Created: 201,
  Accepted: 202,
  NoContent: 204,
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  InternalError: 500,
  NotImplemented: 501,
  ServiceUnavailable: 503,
} as const;

/** Thrown by a route handler; the server's error handler sends `{ code, message }`. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (message: string): ApiError =>
  new ApiError(HttpStatus.BadRequest, ApiErrorCode.BadRequest, message);
export const notFound = (message: string, code: ApiErrorCode = ApiErrorCode.NotFound): ApiError =>
  new ApiError(HttpStatus.NotFound, code, message);
export const alreadyExists = (message: string): ApiError =>
  new ApiError(HttpStatus.Conflict, ApiErrorCode.AlreadyExists, message);
export const notImplemented = (message: string): ApiError =>
  new ApiError(HttpStatus.NotImplemented, ApiErrorCode.NotImplemented, message);
export const unauthorized = (code: ApiErrorCode, message: string): ApiError =>
  new ApiError(HttpStatus.Unauthorized, code, message);
