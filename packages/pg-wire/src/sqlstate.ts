/**
 * SQLSTATE codes Warden answers with (see PostgreSQL Appendix A, "PostgreSQL Error Codes").
 * Values are the five-character codes sent in the 'C' field of ErrorResponse/NoticeResponse.
 */
export const SqlState = {
  /** 00000: successful_completion (used in notices) */
  SUCCESSFUL_COMPLETION: '00000',
  /** 01000: warning (NoticeResponse, e.g. "statement held for review") */
  WARNING: '01000',
  /** 08001: sqlclient_unable_to_establish_sqlconnection (target unreachable) */
  SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION: '08001',
  /** 08006: connection_failure (agent offline, tunnel lost) */
  CONNECTION_FAILURE: '08006',
  /** 08P01: protocol_violation */
  PROTOCOL_VIOLATION: '08P01',
  /** 0A000: feature_not_supported */
  FEATURE_NOT_SUPPORTED: '0A000',
  /** 22023: invalid_parameter_value (a startup parameter that conflicts with a pinned setting) */
  INVALID_PARAMETER_VALUE: '22023',
  /** 22021: character_not_in_repertoire (invalid UTF-8 in a message string) */
  CHARACTER_NOT_IN_REPERTOIRE: '22021',
  /** 28000: invalid_authorization_specification */
  INVALID_AUTHORIZATION_SPECIFICATION: '28000',
  /** 28P01: invalid_password */
  INVALID_PASSWORD: '28P01',
  /** 3D000: invalid_catalog_name (unknown connection name in the database field) */
  INVALID_CATALOG_NAME: '3D000',
  /** 42501: insufficient_privilege (blocked by policy) */
  INSUFFICIENT_PRIVILEGE: '42501',
  /** 53300: too_many_connections */
  TOO_MANY_CONNECTIONS: '53300',
  /** 54000: program_limit_exceeded (message too large) */
  PROGRAM_LIMIT_EXCEEDED: '54000',
  /** 57014: query_canceled */
  QUERY_CANCELED: '57014',
  /** 57P01: admin_shutdown (session terminated by an admin) */
  ADMIN_SHUTDOWN: '57P01',
  /** XX000: internal_error */
  INTERNAL_ERROR: 'XX000',
} as const;

export type SqlStateCode = (typeof SqlState)[keyof typeof SqlState];
