"""The database schema. Each resource keeps its SageMaker-shaped description as JSON, plus the few
columns that lookups, filters, sorting and uniqueness need, so the API stays a faithful mirror
without a column per field."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ModelPackageGroupRow(Base):
    __tablename__ = "model_package_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(63), unique=True, nullable=False)
    arn: Mapped[str] = mapped_column(String(2048), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    doc: Mapped[dict] = mapped_column(JSON, nullable=False)


class ModelPackageRow(Base):
    __tablename__ = "model_packages"
    __table_args__ = (UniqueConstraint("group_name", "version", name="uq_package_group_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Versioned packages belong to a group; unversioned ones have a unique name instead.
    group_name: Mapped[str | None] = mapped_column(
        String(63), ForeignKey("model_package_groups.name"), nullable=True, index=True
    )
    version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    name: Mapped[str] = mapped_column(String(63), nullable=False, index=True)
    arn: Mapped[str] = mapped_column(String(2048), unique=True, nullable=False)
    approval_status: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    doc: Mapped[dict] = mapped_column(JSON, nullable=False)


class ModelRow(Base):
    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(63), unique=True, nullable=False)
    arn: Mapped[str] = mapped_column(String(2048), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    doc: Mapped[dict] = mapped_column(JSON, nullable=False)


class JobRow(Base):
    __tablename__ = "recommendation_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    arn: Mapped[str] = mapped_column(String(2048), unique=True, nullable=False)
    job_type: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, index=True)
    model_name: Mapped[str | None] = mapped_column(String(63), nullable=True)
    model_package_arn: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    modified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The validated request as the client sent it, and what the job has produced so far.
    request: Mapped[dict] = mapped_column(JSON, nullable=False)
    result: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    # Which control process owns the job now; lets a restarted service find orphaned jobs.
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)


class JobStepRow(Base):
    __tablename__ = "recommendation_job_steps"
    __table_args__ = (UniqueConstraint("job_name", "step_index", name="uq_job_step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_name: Mapped[str] = mapped_column(
        String(64), ForeignKey("recommendation_jobs.name", ondelete="CASCADE"), nullable=False, index=True
    )
    step_index: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    emulation_scale: Mapped[float] = mapped_column(Float, nullable=False, default=1.0)
    doc: Mapped[dict] = mapped_column(JSON, nullable=False)


class EndpointConfigRow(Base):
    __tablename__ = "endpoint_configs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(63), unique=True, nullable=False)
    arn: Mapped[str] = mapped_column(String(2048), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    doc: Mapped[dict] = mapped_column(JSON, nullable=False)


class EndpointRow(Base):
    __tablename__ = "endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(63), unique=True, nullable=False)
    arn: Mapped[str] = mapped_column(String(2048), unique=True, nullable=False)
    status: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    config_name: Mapped[str] = mapped_column(String(63), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    modified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    # The SageMaker-shaped description, plus what runs it now (`Running`: instance URLs, the
    # executor's ledger id): the latter is what a restarted server reads to restart or reap it.
    doc: Mapped[dict] = mapped_column(JSON, nullable=False)
    # Which control process runs the endpoint's processes; a restarted server takes over the rest.
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)


class AIResourceRow(Base):
    """The generative-AI recommender's resources: AIWorkloadConfig, AIBenchmarkJob and
    AIRecommendationJob, one table with a `kind` column, each kept as its SageMaker-shaped document.
    A job's `status` (the AI API's spelling) and `owner` (the control process that runs it) are what
    `genai.repo.AIJobRepo` moves and claims, as `owner` on a real-time job."""

    __tablename__ = "ai_resources"
    __table_args__ = (UniqueConstraint("kind", "name", name="uq_ai_resource_kind_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(63), nullable=False)
    arn: Mapped[str] = mapped_column(String(2048), unique=True, nullable=False)
    status: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    doc: Mapped[dict] = mapped_column(JSON, nullable=False)
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
