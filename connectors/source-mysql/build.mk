# source-mysql links libmariadb (MariaDB Connector/C, speaks to MySQL too).
LIBS_source-mysql = -lmariadb
$(BUILD)/obj/connectors/source-mysql/%.o: CFLAGS += -I/usr/include/mariadb
