"""Accounts and sessions through the gateway (API.md: POST /api/users,
POST/DELETE /api/sessions, GET /api/users/me): the 201 shapes, lower-cased
and case-insensitively unique emails, the password length bounds, field
validation (invalid_field with the offending field), invalid_credentials for
any mismatch, and a token that stops working after logout."""

import datetime
import uuid

from helpers import RFC3339_UTC, poll
from shoptest import ShopTestCase


def fresh_email(prefix="u"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.test"


class UsersTest(ShopTestCase):
    def post_user(self, body):
        return self.api("POST", "/api/users", body)

    # ---- registration ----
    def test_register_shape_and_lower_cased_email(self):
        local = uuid.uuid4().hex[:10]
        st, hdrs, body = self.post_user({"email": f"Mixed.{local}@Example.TEST", "name": "Ada",
                                         "password": "correct horse battery"})
        self.assertEqual(st, 201, body)
        self.assertTrue(hdrs["Content-Type"].startswith("application/json"))
        self.assertEqual(set(body), {"id", "email", "name"}, body)
        self.assertIsInstance(body["id"], int)
        self.assertGreater(body["id"], 0)
        self.assertEqual(body["email"], f"mixed.{local}@example.test")
        self.assertEqual(body["name"], "Ada")

    def test_unicode_name_round_trips(self):
        name = "Zoë Ñandú 😀 \"quoted\" \\ back"
        user, email, password = self.register(name=name)
        self.assertEqual(user["name"], name)
        st, _, me = self.api("GET", "/api/users/me", token=self.login(email, password))
        self.assertEqual((st, me["name"]), (200, name))

    def test_register_email_taken_ignoring_case(self):
        email = fresh_email("dup")
        self.register(email=email)
        self.assertError(self.post_user({"email": email, "name": "Again",
                                         "password": "another password"}), 409, "email_taken")
        self.assertError(self.post_user({"email": email.upper(), "name": "Again",
                                         "password": "another password"}), 409, "email_taken")

    def test_register_password_length_bounds(self):
        for pw in ("x" * 7, "x" * 129, ""):
            with self.subTest(length=len(pw)):
                self.assertError(self.post_user({"email": fresh_email(), "name": "N",
                                                 "password": pw}),
                                 400, "invalid_field", {"field": "password"})
        for pw in ("x" * 8, "y" * 128):
            with self.subTest(length=len(pw)):
                st, _, body = self.post_user({"email": fresh_email(), "name": "N", "password": pw})
                self.assertEqual(st, 201, body)

    def test_register_wrong_types(self):
        good = {"email": fresh_email(), "name": "Typed", "password": "long enough pw"}
        for field, bad in (("email", 5), ("email", None), ("email", ["a@b.c"]),
                           ("name", 5), ("name", {"first": "x"}), ("name", True),
                           ("password", 12345678), ("password", None)):
            with self.subTest(field=field, value=bad):
                self.assertError(self.post_user(dict(good, **{field: bad})),
                                 400, "invalid_field", {"field": field})

    def test_register_missing_fields(self):
        good = {"email": fresh_email(), "name": "Missing", "password": "long enough pw"}
        for field in ("email", "name", "password"):
            with self.subTest(field=field):
                body = {k: v for k, v in good.items() if k != field}
                self.assertError(self.post_user(body), 400, "invalid_field", {"field": field})
        # none of these attempts created the account
        st, _, body = self.post_user(good)
        self.assertEqual(st, 201, body)

    def test_register_implausible_email(self):
        for email in ("no-at-sign", "two@@example.test", "@example.test", "a b@example.test"):
            with self.subTest(email=email):
                self.assertError(self.post_user({"email": email, "name": "N",
                                                 "password": "long enough pw"}),
                                 400, "invalid_field", {"field": "email"})

    # ---- sessions ----
    def test_login_shape(self):
        user, email, password = self.register(name="Login Shape")
        before = datetime.datetime.now(datetime.timezone.utc)
        st, _, body = self.api("POST", "/api/sessions", {"email": email, "password": password})
        self.assertEqual(st, 201, body)
        self.assertEqual(set(body), {"token", "expires_at", "user"}, body)
        self.assertIsInstance(body["token"], str)
        self.assertGreaterEqual(len(body["token"]), 16)
        self.assertRegex(body["expires_at"], RFC3339_UTC)
        expires = datetime.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
        self.assertGreater(expires, before)
        self.assertEqual(body["user"], user)
        # two logins give two different tokens
        self.assertNotEqual(self.login(email, password), body["token"])

    def test_login_email_ignores_case(self):
        user, email, password = self.register()
        st, _, body = self.api("POST", "/api/sessions",
                               {"email": email.upper(), "password": password})
        self.assertEqual(st, 201, body)
        self.assertEqual(body["user"], user)

    def test_login_mismatch_is_invalid_credentials(self):
        _, email, password = self.register()
        for creds in ({"email": email, "password": password + "x"},
                      {"email": email, "password": password.upper()},
                      {"email": email, "password": ""},
                      {"email": fresh_email("nobody"), "password": password},
                      {"email": "", "password": ""}):
            with self.subTest(creds=creds):
                self.assertError(self.api("POST", "/api/sessions", creds), 401,
                                 "invalid_credentials")

    def test_login_fields_must_be_strings(self):
        _, email, password = self.register()
        self.assertError(self.api("POST", "/api/sessions", {"email": 5, "password": password}),
                         400, "invalid_field", {"field": "email"})
        self.assertError(self.api("POST", "/api/sessions", {"email": email, "password": None}),
                         400, "invalid_field", {"field": "password"})
        self.assertError(self.api("POST", "/api/sessions", {"password": password}),
                         400, "invalid_field", {"field": "email"})

    def test_me(self):
        user, token = self.new_user()
        st, _, body = self.api("GET", "/api/users/me", token=token)
        self.assertEqual(st, 200, body)
        self.assertEqual(body, user)

    def test_me_without_valid_token(self):
        user, token = self.new_user()
        self.assertError(self.api("GET", "/api/users/me"), 401, "unauthenticated")
        self.assertError(self.api("GET", "/api/users/me", token="0" * 64), 401, "unauthenticated")
        self.assertError(self.api("GET", "/api/users/me", token=token + "0"), 401,
                         "unauthenticated")
        self.assertError(self.api("GET", "/api/users/me", headers={"Authorization": token}),
                         401, "unauthenticated")
        self.assertError(self.api("GET", "/api/users/me",
                                  headers={"Authorization": "Basic " + token}),
                         401, "unauthenticated")
        # the gateway strips a client's X-User-Id: it never authenticates anybody
        self.assertError(self.api("GET", "/api/users/me",
                                  headers={"X-User-Id": str(user["id"])}),
                         401, "unauthenticated")

    def test_logout(self):
        _, email, password = self.register()
        token = self.login(email, password)
        other = self.login(email, password)
        st, _, body = self.api("DELETE", "/api/sessions", token=token)
        self.assertEqual(st, 204, body)
        self.assertIsNone(body)
        self.assertError(self.api("GET", "/api/users/me", token=token), 401, "unauthenticated")
        self.assertError(self.api("DELETE", "/api/sessions", token=token), 401, "unauthenticated")
        # only that session ended
        st, _, body = self.api("GET", "/api/users/me", token=other)
        self.assertEqual(st, 200, body)

    def test_logout_without_token(self):
        self.assertError(self.api("DELETE", "/api/sessions"), 401, "unauthenticated")


class SessionExpiryTest(ShopTestCase):
    """Sessions end by themselves after VIGIL_SESSION_TTL_S."""

    SERVICES = ["gateway", "user"]
    ENV = {"VIGIL_SESSION_TTL_S": "2"}

    def test_session_expires(self):
        user, email, password = self.register()
        st, _, body = self.api("POST", "/api/sessions", {"email": email, "password": password})
        self.assertEqual(st, 201, body)
        expires = datetime.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
        left = (expires - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        self.assertLess(left, 10)
        self.assertGreater(left, -2)
        self.assertEqual(self.api("GET", "/api/users/me", token=body["token"])[0], 200)
        poll(lambda: self.api("GET", "/api/users/me", token=body["token"])[0] == 401, 10,
             "the session expired")
        self.assertError(self.api("GET", "/api/users/me", token=body["token"]), 401,
                         "unauthenticated")
        self.assertEqual(self.api("GET", "/api/users/me", token=self.login(email, password))[0],
                         200)
