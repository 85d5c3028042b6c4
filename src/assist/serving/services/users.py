"""Users: add, list, disable, authenticate; the caller as a :class:`Principal`."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from assist.errors import InputError
from assist.serving.auth import Principal, hash_password, verify_password
from assist.serving.models import ROLES, Jurisdiction, User, UserJurisdiction
from assist.serving.services.snapshots import DISTRICT


def add_user(session: Session, *, username: str, password: str, role: str,
             streets: Sequence[str] = ()) -> User:
    """Create a user; caseworkers need at least one street, others get the district."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise InputError("password must be at least 8 characters")
    if session.scalars(select(User).where(User.username == username)).first():
        raise InputError(f"user {username!r} exists")
    if role == "caseworker" and not streets:
        raise InputError("a caseworker needs at least one street (--street)")
    if role != "caseworker" and streets:
        raise InputError("only caseworkers are limited to streets")
    if not session.get(Jurisdiction, DISTRICT):
        session.add(Jurisdiction(code=DISTRICT, level="district", name="district"))
        session.flush()
    for s in streets:
        if not session.get(Jurisdiction, s):
            session.add(Jurisdiction(code=s, level="street", name=s, parent_code=DISTRICT))
    session.flush()
    user = User(username=username, password_hash=hash_password(password), role=role,
                streets=[UserJurisdiction(jurisdiction_code=s) for s in sorted(set(streets))])
    session.add(user)
    session.commit()
    return user


def set_password(session: Session, *, username: str, password: str) -> User:
    """Give an existing, enabled user a new password."""
    if len(password) < 8:
        raise InputError("password must be at least 8 characters")
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise InputError(f"no user {username!r}")
    user.password_hash = hash_password(password)
    session.commit()
    return user


def list_users(session: Session) -> list[User]:
    """All users by name."""
    return list(session.scalars(select(User).order_by(User.username)))


def disable_user(session: Session, *, username: str) -> User:
    """Disable a user: tokens stop working at once."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise InputError(f"no user {username!r}")
    user.active = False
    session.commit()
    return user


def authenticate(session: Session, *, username: str, password: str) -> User | None:
    """The active user with these credentials, else None."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None or not user.active or not verify_password(user.password_hash, password):
        return None
    return user


def principal(user: User) -> Principal:
    """The caller as seen by the services."""
    return Principal(user_id=user.id, username=user.username, role=user.role,
                     streets=tuple(user.street_codes) if user.role == "caseworker" else None)
