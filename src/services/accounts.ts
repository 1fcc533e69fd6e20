/**
 * Accounts (auth: token): the sign-up rules the Docker Hub had (the username pattern, password and
 * email limits) and the account writes that apply them, shared by the sign-up route and the
 * admin CLI (scripts/admin.ts).
 */
import type { UserStore } from '../db/meta.ts';
import { RegistryError } from '../errors.ts';

const USERNAME_RULE = /^[a-z0-9_]{4,30}$/;
const MAX_PASSWORD_LENGTH = 1024;
const MAX_EMAIL_LENGTH = 254;

function validateUsername(username: unknown): string {
  if (typeof username !== 'string' || !USERNAME_RULE.test(username)) {
    throw new RegistryError('INVALID_USER', 'username must be 4 to 30 characters of a-z, 0-9 and _');
  }
  return username;
}

export function validatePassword(password: unknown): string {
  if (typeof password !== 'string' || password === '' || password.length > MAX_PASSWORD_LENGTH) {
    throw new RegistryError('INVALID_USER', `password must be a non-empty string of at most ${MAX_PASSWORD_LENGTH} characters`);
  }
  return password;
}

export function validateEmail(email: unknown): string {
  if (typeof email !== 'string' || email === '' || email.length > MAX_EMAIL_LENGTH || !email.includes('@')) {
    throw new RegistryError('INVALID_USER', `email must contain @ and be at most ${MAX_EMAIL_LENGTH} characters`);
  }
  return email;
}

/** Creates an account after checking the sign-up rules; false when the name is taken. */
export async function createAccount(
  meta: UserStore,
  account: { username: unknown; password: unknown; email: unknown; admin?: boolean },
): Promise<boolean> {
  const username = validateUsername(account.username);
  const password = validatePassword(account.password);
  const email = validateEmail(account.email);
  return meta.createUser({ username, passwordHash: await Bun.password.hash(password), email, admin: account.admin ?? false });
}

/** Sets a new password (rules checked); false when the user does not exist. */
export async function setPassword(meta: UserStore, username: string, password: unknown): Promise<boolean> {
  return meta.updateUser(username, { passwordHash: await Bun.password.hash(validatePassword(password)) });
}
