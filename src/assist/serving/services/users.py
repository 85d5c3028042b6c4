"""Users: add, list, disable, authenticate; the caller as a :class:`Principal`.

Every change that withdraws trust — a new password, a disabled user, a new role — ends the
user's page sessions in the same transaction (:func:`end_sessions`), so an old cookie is
refused at once. API bearer tokens are stateless: a disabled user or a new role takes effect
within the principal cache's TTL (:data:`assist.serving.deps.PRINCIPAL_TTL_SECONDS`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from assist.errors import InputError
from assist.serving.auth import Principal, hash_password, verify_password
from assist.serving.models import ROLES, STREET_ROLES, Jurisdiction, User, UserJurisdiction
from assist.serving.services.sessions import end_user_sessions
from assist.serving.services.snapshots import DISTRICT


def add_user(session: Session, *, username: str, password: str, role: str,
             streets: Sequence[str] = ()) -> User:
    """Create a user; caseworkers and street leads need at least one street, others get the
    district."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise InputError("password must be at least 8 characters")
    if session.scalars(select(User).where(User.username == username)).first():
        raise InputError(f"user {username!r} exists")
    if role in STREET_ROLES and not streets:
        raise InputError(f"a {role} needs at least one street (--street)")
    if role not in STREET_ROLES and streets:
        raise InputError("only caseworkers and street leads are limited to streets")
    user = User(username=username, password_hash=hash_password(password), role=role)
    _assign_streets(session, user, sorted(set(streets)))
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
    end_sessions(session, user=user)
    session.commit()
    return user


def end_sessions(session: Session, *, user: User) -> int:
    """End every page session of ``user`` (not committed: commit with the change that called
    for it). The hook of every change that withdraws trust; returns how many were ended."""
    return end_user_sessions(session, user_id=user.id)


def set_role(session: Session, *, username: str, role: str) -> User:
    """Give a user a new role (ends the user's sessions). Streets are the caller's concern:
    a caseworker needs at least one, other roles see the district."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise InputError(f"no user {username!r}")
    if user.role != role:
        user.role = role
        end_sessions(session, user=user)
    session.commit()
    return user


def list_users(session: Session) -> list[User]:
    """All users by name."""
    return list(session.scalars(select(User).order_by(User.username)))


def disable_user(session: Session, *, username: str) -> User:
    """Disable a user: page sessions end at once, tokens within the principal cache's TTL."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise InputError(f"no user {username!r}")
    user.active = False
    end_sessions(session, user=user)
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
                     streets=tuple(user.street_codes) if user.role in STREET_ROLES else None)


# --- administration: streets, re-enabling, roles with streets, password resets -------------
def known_streets(session: Session) -> list[str]:
    """Streets a caseworker can be given: those of the case store's jurisdictions (loaded with
    the snapshots), or the district's declared streets before any snapshot is loaded."""
    from assist.features.codes import STREETS

    loaded = session.scalars(select(Jurisdiction.code).where(Jurisdiction.level == "street"))
    return sorted(set(loaded)) or sorted(STREETS)


def check_streets(session: Session, streets: Sequence[str]) -> list[str]:
    """``streets`` sorted and unique; InputError in one line naming any unknown one."""
    known = known_streets(session)
    unknown = sorted(set(streets) - set(known))
    if unknown:
        raise InputError(f"no such street: {', '.join(unknown)} (known: {', '.join(known)})")
    return sorted(set(streets))


def _user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise InputError(f"no user {username!r}")
    return user


def enable_user(session: Session, *, username: str) -> User:
    """Enable a disabled user again (they sign in anew; nothing else changes)."""
    user = _user(session, username)
    user.active = True
    session.commit()
    return user


def _assign_streets(session: Session, user: User, streets: list[str]) -> None:
    """Give ``user`` exactly ``streets`` (known ones; jurisdiction rows created as needed)."""
    if not session.get(Jurisdiction, DISTRICT):
        session.add(Jurisdiction(code=DISTRICT, level="district", name="district"))
        session.flush()
    for s in streets:
        if not session.get(Jurisdiction, s):
            session.add(Jurisdiction(code=s, level="street", name=s, parent_code=DISTRICT))
    session.flush()
    user.streets = [UserJurisdiction(jurisdiction_code=s) for s in streets]


def set_streets(session: Session, *, username: str, streets: Sequence[str]) -> User:
    """Give a caseworker exactly ``streets`` (at least one, each known); a street taken away
    ends the caseworker's page sessions."""
    user = _user(session, username)
    if user.role not in STREET_ROLES:
        raise InputError(f"user {username!r} is a {user.role}: only caseworkers and street "
                         "leads have streets")
    if not streets:
        raise InputError(f"a {user.role} needs at least one street (--street)")
    wanted = check_streets(session, streets)
    if set(user.street_codes) - set(wanted):
        end_sessions(session, user=user)
    _assign_streets(session, user, wanted)
    session.commit()
    return user


def change_role(session: Session, *, username: str, role: str,
                streets: Sequence[str] = ()) -> User:
    """A new role (through :func:`set_role`, which ends the user's sessions): a caseworker
    needs streets (given, or those already held), other roles lose theirs."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    user = _user(session, username)
    if role in STREET_ROLES:
        wanted = check_streets(session, streets) if streets else user.street_codes
        if not wanted:
            raise InputError(f"a {role} needs at least one street (--street)")
        _assign_streets(session, user, list(wanted))
    elif streets:
        raise InputError("only caseworkers and street leads are limited to streets")
    else:
        user.streets = []
    session.flush()
    return set_role(session, username=username, role=role)


def reset_password(session: Session, *, username: str, enable: bool = False) -> str:
    """A fresh random password for a user (through :func:`set_password`, which ends their
    sessions), optionally enabling them too; returns the password to hand over."""
    import secrets

    password = secrets.token_urlsafe(12)
    user = set_password(session, username=username, password=password)
    if enable and not user.active:
        enable_user(session, username=username)
    return password
