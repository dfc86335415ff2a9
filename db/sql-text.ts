/**
 * Quoting for the few statements that cannot take parameters (CREATE DATABASE, CREATE ROLE,
 * COPY column lists): one implementation, so every caller escapes the same way.
 */

/** A quoted SQL identifier. */
export const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** A quoted SQL string literal. */
export const literal = (value: string) => `'${value.replace(/'/g, "''")}'`;
