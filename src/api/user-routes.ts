// Users and sessions: register (with a password, or without as the minimum API allowed), log in
// for a session token that expires, log out, and who am I. Passwords are hashed here with scrypt;
// the cluster only ever sees hashes of passwords and tokens.
import type { FastifyInstance } from "fastify";
import type { ApiContext } from "./context.js";
import { fail, parse } from "./context.js";
import { loginBodySchema, registerBodySchema } from "./schemas.js";
import { hashPassword, hashToken, newToken, verifyPassword } from "./secrets.js";

/** How long a login lasts. */
export const sessionTtlMs = 24 * 60 * 60 * 1000;

export function registerUserRoutes(server: FastifyInstance, context: ApiContext): void {
  server.post("/api/users", async (request, reply) => {
    const body = parse(registerBodySchema, request.body);
    const token = newToken();
    const passwordHash = body.password === undefined ? null : await hashPassword(body.password);
    const result = await context.applied({
      kind: "register",
      name: body.name,
      tokenHash: hashToken(token),
      passwordHash,
    });
    if (result.kind !== "user") fail(500, "internal", "unexpected result");
    if (!result.created) fail(409, "name-taken", `the name ${body.name} is taken`);
    return reply.code(201).send({ name: body.name, token, expiresAt: null });
  });

  server.post("/api/sessions", async (request, reply) => {
    const body = parse(loginBodySchema, request.body);
    await context.read();
    const user = context.node().state().users.get(body.name);
    // The same answer, after the same work, whether the name exists or not.
    const stored =
      user?.passwordHash ??
      "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const matches = await verifyPassword(body.password, stored);
    if (user === undefined || user.passwordHash === null || !matches) {
      fail(401, "bad-credentials", "wrong name or password");
    }
    const token = newToken();
    const expiresAt = Date.now() + sessionTtlMs;
    const result = await context.applied({
      kind: "login",
      name: body.name,
      tokenHash: hashToken(token),
      expiresAt,
    });
    if (result.kind !== "session" || !result.created)
      fail(500, "internal", "the session could not be created");
    return reply.code(201).send({ name: body.name, token, expiresAt });
  });

  server.delete("/api/sessions/current", async (request, reply) => {
    await context.authenticate(request);
    await context.applied({ kind: "logout", tokenHash: hashToken(context.token(request)!) });
    return reply.code(204).send();
  });

  server.get("/api/me", async (request) => ({ name: await context.authenticate(request) }));
}
