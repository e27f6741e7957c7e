# badgebot: the bot (`badgebot run`) and the REST API (`badgebot api`) from one image.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY badges badges
COPY db db
COPY bot bot
COPY cogs cogs
COPY api api
RUN pip install --no-cache-dir '.[postgres]' && useradd --system --no-create-home badgebot
USER badgebot
CMD ["badgebot", "run"]
