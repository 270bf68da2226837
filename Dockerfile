# The image docker-compose.yml runs as `web` and `worker`.
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY worker ./worker
COPY ssl_core ./ssl_core
COPY templates ./templates
# Editable, so the pages find templates/ next to the packages.
RUN pip install --no-cache-dir -e .
ENV MATCHLAB_HOME=/matchlab
VOLUME /matchlab
EXPOSE 8000
CMD ["matchlab", "web", "--host", "0.0.0.0", "--port", "8000"]
